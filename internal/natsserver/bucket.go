package natsserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vaktmfa/vakt/internal/natserr"
)

// OpenBucket opens the key-value bucket cfg.Bucket, creating it with cfg
// when it does not exist (a bucket another process created meanwhile is
// opened instead), and returns it with the stream that holds it, so that
// the caller can check what a bucket it did not create is like. When the
// stream's replicas differ from cfg.Replicas (a restart with another
// --replicas), they are changed. what names the caller in errors ("api
// keys"); errors are natserr's.
func OpenBucket(ctx context.Context, js jetstream.JetStream, what string, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, jetstream.Stream, error) {
	op := what + ": open bucket " + cfg.Bucket
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket) // created meanwhile by another process
		}
	}
	if err != nil {
		return nil, nil, natserr.Wrap(op, err)
	}
	st, err := js.Stream(ctx, "KV_"+cfg.Bucket)
	if err != nil {
		return nil, nil, natserr.Wrap(op, err)
	}
	if sc := st.CachedInfo().Config; cfg.Replicas > 0 && sc.Replicas != cfg.Replicas {
		sc.Replicas = cfg.Replicas
		if st, err = js.UpdateStream(ctx, sc); err != nil {
			return nil, nil, natserr.Wrap(fmt.Sprintf("%s: change the replicas of bucket %s to %d", what, cfg.Bucket, cfg.Replicas), err)
		}
	}
	return kv, st, nil
}
