module github.com/cobraspace/cobraspace/services/gateway

go 1.26.0

replace (
	github.com/cobraspace/cobraspace/platform => ../../platform
	github.com/cobraspace/cobraspace/proto => ../../proto
)
