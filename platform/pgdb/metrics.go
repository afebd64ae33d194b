package pgdb

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// RegisterPoolMetrics exports the pool's statistics (pgxpool Stat) under
// the names the operations dashboard reads: cobra_db_pool_acquired_conns,
// cobra_db_pool_max_conns and cobra_db_pool_empty_acquire_total.
func RegisterPoolMetrics(reg prometheus.Registerer, pool *pgxpool.Pool) error {
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cobra_db_pool_acquired_conns",
			Help: "Connections currently checked out of the PostgreSQL pool.",
		}, func() float64 { return float64(pool.Stat().AcquiredConns()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cobra_db_pool_max_conns",
			Help: "Maximum size of the PostgreSQL pool.",
		}, func() float64 { return float64(pool.Stat().MaxConns()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cobra_db_pool_empty_acquire_total",
			Help: "Acquires that had to wait because the PostgreSQL pool was exhausted.",
		}, func() float64 { return float64(pool.Stat().EmptyAcquireCount()) }),
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
