package filedrop

import (
	"context"
	"fmt"
)

// Stats is what the file drop holds and does now, for the hub's metrics.
type Stats struct {
	Drops           int64            // sealed drops
	Bytes           int64            // their files' bytes (plaintext)
	OpenUploads     int64            // resumable uploads begun and not finished
	UploadsInFlight int64            // uploads whose bytes are arriving right now
	ReceivedBytes   int64            // upload bytes received since the engine opened
	Forwards        map[string]int64 // deliveries to other regions' hubs, by state
}

// Stats counts what the store holds; three small queries.
func (d *Drops) Stats(ctx context.Context) (Stats, error) {
	s := Stats{UploadsInFlight: d.inflight.Load(), ReceivedBytes: d.received.Load(), Forwards: map[string]int64{}}
	if err := d.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(total_bytes), 0) FROM drops WHERE state = 'sealed'`).Scan(&s.Drops, &s.Bytes); err != nil {
		return s, fmt.Errorf("filedrop: stats: %w", err)
	}
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM upload_sessions`).Scan(&s.OpenUploads); err != nil {
		return s, fmt.Errorf("filedrop: stats: %w", err)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT state, count(*) FROM forwards GROUP BY state`)
	if err != nil {
		return s, fmt.Errorf("filedrop: stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return s, fmt.Errorf("filedrop: stats: %w", err)
		}
		s.Forwards[st] = n
	}
	return s, rows.Err()
}
