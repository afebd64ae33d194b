// Package gctune sets the Go garbage collector for a service's workload.
// Two policies exist because the services differ in what the collector
// costs them (measured, see the chat and gateway READMEs and BENCHMARKS.md):
//
//   - Throughput (chat): many short-lived allocations per request and a
//     small live heap, so a high GOGC (400) saves CPU; a soft memory limit
//     at 80% of the container's memory limit keeps the larger heap goal
//     away from an OOM kill.
//   - LowerWhenIdle (gateway): a large live heap of idle sockets whose GC
//     headroom costs memory, and bursts of work (reconnect storms) that a
//     low GOGC would make expensive: GOGC drops to 25 only while the
//     process is idle with a large heap and is back at 100 when work comes.
//
// Both leave the collector alone when GOGC is set in the environment, and
// Throughput sets no memory limit when GOMEMLIMIT is set: an operator's
// explicit setting always wins.
package gctune
