module github.com/vaktmfa/vakt

go 1.26.8

require (
	github.com/boombuler/barcode v1.0.1-0.20190219062509-6c824513bacc
	github.com/goccy/go-json v0.12.0
	github.com/pquerna/otp v1.5.0
)
