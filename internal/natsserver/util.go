package natsserver

import (
	"net"
	"strconv"
)

func netSplit(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, strconv.ErrRange
	}
	return host, port, nil
}
