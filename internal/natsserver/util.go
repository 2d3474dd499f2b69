package natsserver

import (
	"net"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"
)

// netSplit splits a listen address. Port 0 and -1 both mean "any free port":
// nats-server reads 0 as its default port 4222 and wants -1
// (server.RANDOM_PORT) for a random one.
func netSplit(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, strconv.ErrRange
	}
	if port <= 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}
