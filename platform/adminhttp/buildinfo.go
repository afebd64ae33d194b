package adminhttp

import "github.com/prometheus/client_golang/prometheus"

// RegisterBuildInfo registers cobra_build_info{version,commit}, always 1,
// so dashboards and alerts can tell which build each pod runs (the values
// come from the -X main.version / main.commit flags of the image build).
func RegisterBuildInfo(reg prometheus.Registerer, version, commit string) error {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "cobra_build_info",
		Help:        "Build of this process (always 1): version and commit as labels.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit},
	})
	g.Set(1)
	return reg.Register(g)
}
