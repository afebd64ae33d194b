package chatsocket_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cobraspace/cobraspace/services/gateway/internal/stack"
)

// TestChatTwoChatReplicasE2E runs two chat service replicas behind two
// gateways (each gateway given both addresses): sockets of 16 rooms on both
// gateways send at once; every acknowledged message reaches every member
// exactly once in seq order, and both chat replicas committed messages
// (each room's sends go to one of them: chatroute, TestSenderRoutesRoomsToOnePodInBatches).
func TestChatTwoChatReplicasE2E(t *testing.T) {
	t.Parallel()
	st := stack.Start(t, stack.Options{Gateways: 2, ChatReplicas: 2})
	if n := strings.Count(st.ChatAddr, ",") + 1; n != 2 {
		t.Fatalf("chat addresses %q, want 2", st.ChatAddr)
	}
	const rooms, perSocket = 16, 3
	owner := e2eSignup(t, st.Gateways[0])
	listeners := []e2eUser{e2eSignup(t, st.Gateways[0]), e2eSignup(t, st.Gateways[1])}
	type roomRun struct {
		id      int64
		sender  e2eUser
		members []*member
	}
	runs := make([]*roomRun, rooms)
	for i := range runs {
		r := &roomRun{id: e2eRoom(t, st.Gateways[0], owner), sender: e2eSignup(t, st.Gateways[i%2])}
		for g, l := range listeners {
			m := &member{name: fmt.Sprintf("room %d listener@gw%d", r.id, g)}
			c := mustE2E(t, st.Gateways[g], r.id, l, "")
			c.nextOf("chat.presence")
			m.read(c.ws)
			r.members = append(r.members, m)
		}
		runs[i] = r
	}

	var wg sync.WaitGroup
	acked := make([]map[int64]bool, rooms)
	var mu sync.Mutex
	for i, r := range runs {
		acked[i] = map[int64]bool{}
		for g := range 2 {
			wg.Go(func() {
				c := mustE2E(t, st.Gateways[g], r.id, r.sender, "")
				c.nextOf("chat.presence")
				for k := range perSocket {
					seq := sendAcked(t, c, fmt.Sprintf("room %d gw%d #%d", r.id, g, k))
					mu.Lock()
					acked[i][seq] = true
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for i, r := range runs {
		if len(acked[i]) != 2*perSocket {
			t.Errorf("room %d: %d distinct acked seqs, want %d", r.id, len(acked[i]), 2*perSocket)
		}
		for _, m := range r.members {
			m.waitFor(t, 2*perSocket, 10*time.Second)
			m.check(t, acked[i])
		}
	}

	var total float64
	for _, p := range st.ChatReplicas() {
		n := persisted(t, "http://"+p.Admin+"/metrics")
		if n == 0 {
			t.Errorf("chat replica %s committed no message: rooms were not spread over the replicas", p.Name)
		}
		total += n
	}
	if want := float64(rooms * 2 * perSocket); total != want {
		t.Errorf("the replicas committed %v messages, want %v", total, want)
	}
}

// persisted reads chat_messages_persisted_total from a chat replica.
func persisted(t *testing.T, url string) float64 {
	t.Helper()
	resp, err := http.Get(url) //nolint:noctx // a test's own loopback address
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "chat_messages_persisted_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("%s: no chat_messages_persisted_total", url)
	return 0
}
