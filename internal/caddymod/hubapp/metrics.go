package hubapp

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubkit/hubkit/internal/audit"
	"github.com/hubkit/hubkit/internal/backup"
)

// The hub's metrics live in Caddy's registry, next to Caddy's own HTTP
// metrics, and are served by Caddy's metrics handler on the separate,
// loopback-only listener (hubctl serve --metrics-listen). Counters of what
// happened are taken from the audit log as records are written, so the
// metrics say exactly what the audit log says; gauges of what the hub
// holds are read from the store when Prometheus scrapes.

// metrics are one configuration's collectors.
type metrics struct {
	events *prometheus.CounterVec // every audit record
	logins *prometheus.CounterVec // login records, with the kommune
	app    *App
}

func newMetrics(a *App) *metrics {
	return &metrics{
		app: a,
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hubkit", Name: "audit_events_total",
			Help: "Audit records written since the hub started, by type, outcome and reason (reason storage_full: uploads refused for a full disk).",
		}, []string{"region", "type", "outcome", "reason"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hubkit", Name: "logins_total",
			Help: "Login attempts since the hub started, by municipality (kommunekode), outcome and refusal reason.",
		}, []string{"region", "kommune", "outcome", "reason"}),
	}
}

// observe counts one audit record of a region.
func (m *metrics) observe(region string) func(audit.Record) {
	return func(r audit.Record) {
		m.events.WithLabelValues(region, r.Type, r.Outcome, r.Reason).Inc()
		if r.Type == "login" {
			k := ""
			if r.Kommune != 0 {
				k = strconv.Itoa(r.Kommune)
			}
			m.logins.WithLabelValues(region, k, r.Outcome, r.Reason).Inc()
		}
	}
}

var (
	descSessions     = prometheus.NewDesc("hubkit_sessions_active", "Logged-in sessions that are neither idle nor past their absolute timeout.", []string{"region"}, nil)
	descDrops        = prometheus.NewDesc("hubkit_drops_stored", "Sealed drops the hub holds.", []string{"region"}, nil)
	descDropBytes    = prometheus.NewDesc("hubkit_drop_bytes_stored", "Bytes (plaintext) of the files of the sealed drops.", []string{"region"}, nil)
	descOpenUploads  = prometheus.NewDesc("hubkit_uploads_open", "Resumable uploads begun and not finished.", []string{"region"}, nil)
	descInFlight     = prometheus.NewDesc("hubkit_uploads_in_flight", "Uploads whose bytes are arriving right now.", []string{"region"}, nil)
	descReceived     = prometheus.NewDesc("hubkit_upload_received_bytes_total", "Upload bytes received since the hub started (rate() is the throughput).", []string{"region"}, nil)
	descFree         = prometheus.NewDesc("hubkit_storage_free_bytes", "Free space of the file system holding the blobs.", []string{"region"}, nil)
	descForwards     = prometheus.NewDesc("hubkit_federation_forwards", "Deliveries of drops to other regions' hubs, by state (pending and failed are the queue).", []string{"region", "state"}, nil)
	descChainOK      = prometheus.NewDesc("hubkit_audit_chain_ok", "1 when the last check of the whole audit chain found no unacknowledged break.", []string{"region"}, nil)
	descChainChecked = prometheus.NewDesc("hubkit_audit_chain_checked_timestamp_seconds", "When the whole audit chain was last checked.", []string{"region"}, nil)
	descRecords      = prometheus.NewDesc("hubkit_audit_records", "Records in the audit log.", []string{"region"}, nil)
	descClamdUp      = prometheus.NewDesc("hubkit_clamd_up", "1 when clamd answers PING (only with file_drop.clamd).", []string{"region"}, nil)
	descSMTPUp       = prometheus.NewDesc("hubkit_smtp_up", "1 when the last notification mail was handed to the relay, 0 when it failed (only with file_drop.smtp_addr).", []string{"region"}, nil)
	descBackupOK     = prometheus.NewDesc("hubkit_backup_last_ok", "1 when the last hubctl backup of the data directory succeeded.", []string{"region"}, nil)
	descBackupTime   = prometheus.NewDesc("hubkit_backup_last_success_timestamp_seconds", "When hubctl backup last succeeded for the data directory.", []string{"region"}, nil)
)

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.events.Describe(ch)
	m.logins.Describe(ch)
	for _, d := range []*prometheus.Desc{descSessions, descDrops, descDropBytes, descOpenUploads, descInFlight, descReceived,
		descFree, descForwards, descChainOK, descChainChecked, descRecords, descClamdUp, descSMTPUp, descBackupOK, descBackupTime} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the counters, and the state of
// every site read now.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.events.Collect(ch)
	m.logins.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range m.app.AllSites() {
		s.collect(ctx, ch)
	}
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func (s *Site) collect(ctx context.Context, ch chan<- prometheus.Metric) {
	id := s.Region.ID
	if n, err := s.Store.ActiveSessions(ctx, time.Now(), s.Session.IdleTimeout.D()); err == nil {
		gauge(ch, descSessions, float64(n), id)
	}
	if st := s.health.chain(); !st.At.IsZero() {
		gauge(ch, descChainOK, b2f(st.OK()), id)
		gauge(ch, descChainChecked, float64(st.At.Unix()), id)
		gauge(ch, descRecords, float64(st.Records), id)
	}
	if s.Drops != nil {
		if st, err := s.Drops.Stats(ctx); err == nil {
			gauge(ch, descDrops, float64(st.Drops), id)
			gauge(ch, descDropBytes, float64(st.Bytes), id)
			gauge(ch, descOpenUploads, float64(st.OpenUploads), id)
			gauge(ch, descInFlight, float64(st.UploadsInFlight), id)
			ch <- prometheus.MustNewConstMetric(descReceived, prometheus.CounterValue, float64(st.ReceivedBytes), id)
			for _, state := range []string{"pending", "delivered", "failed", "withdrawing", "done"} {
				gauge(ch, descForwards, float64(st.Forwards[state]), id, state)
			}
		}
		if free, err := s.Drops.FreeBytes(); err == nil {
			gauge(ch, descFree, float64(free), id)
		}
	}
	if up, ok := s.health.clamdUp(ctx); ok {
		gauge(ch, descClamdUp, b2f(up), id)
	}
	if up, ok := s.health.smtpUp(); ok {
		gauge(ch, descSMTPUp, b2f(up), id)
	}
	if b, ok := backup.ReadStatus(s.DataDir); ok {
		gauge(ch, descBackupOK, b2f(b.OK), id)
		if !b.LastOK.IsZero() {
			gauge(ch, descBackupTime, float64(b.LastOK.Unix()), id)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// health is what a site knows of its own state beyond the store: the last
// whole-chain check, clamd's last answer, the relay's last answer.
type health struct {
	mu        sync.Mutex
	check     audit.Check
	clamd     func(context.Context) error // nil without clamd
	clamdAt   time.Time
	clamdOK   bool
	smtpSeen  bool
	smtpOK    bool
	smtpUsed  bool // SMTP is configured
	clamdUsed bool
}

// AuditHealth is the audit chain's state in /readyz: a break found while
// the hub runs does not stop it serving (the next start refuses), but
// readiness says so.
type AuditHealth struct {
	ChainOK bool      `json:"chain_ok"`
	Records uint64    `json:"records"`
	Checked time.Time `json:"checked"`
	Whole   bool      `json:"whole"`            // the last check read the whole chain, not only since the checkpoint
	Breaks  int       `json:"breaks,omitempty"` // unacknowledged
}

// AuditHealth reports the last check of the audit chain.
func (s *Site) AuditHealth() *AuditHealth {
	if s.health == nil {
		return nil
	}
	c := s.health.chain()
	if c.At.IsZero() {
		return nil
	}
	return &AuditHealth{ChainOK: c.OK(), Records: c.Records, Checked: c.At, Whole: c.From == 0, Breaks: len(c.Unacknowledged)}
}

func (h *health) setChain(c audit.Check) {
	h.mu.Lock()
	h.check = c
	h.mu.Unlock()
}

func (h *health) chain() audit.Check {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.check
}

// clamdUp pings clamd at most every 30 s.
func (h *health) clamdUp(ctx context.Context) (up, known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.clamd == nil {
		return false, false
	}
	if time.Since(h.clamdAt) > 30*time.Second {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		h.clamdOK = h.clamd(pctx) == nil
		cancel()
		h.clamdAt = time.Now()
	}
	return h.clamdOK, true
}

func (h *health) smtpResult(err error) {
	h.mu.Lock()
	h.smtpSeen, h.smtpOK = true, err == nil
	h.mu.Unlock()
}

// smtpUp says whether the last mail went out; unknown before the first.
func (h *health) smtpUp() (up, known bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.smtpOK, h.smtpUsed && h.smtpSeen
}
