// Package notify tells a person by e-mail that something waits for them in
// the hub, through the municipality's SMTP relay.
//
// A notification carries no case content: no case reference, no names, no
// file names, no sender, only that there is something new and a link to the
// hub. Mail leaves the hub's protection (it is stored on mail servers and
// phones for years), so everything worth protecting stays behind the login.
//
// At most one mail goes to a recipient per Interval (an hour by default),
// however many drops arrive: the mail says "log in", and one is enough. The
// limit is kept in the hub's store (table notifications_sent), so a restart
// does not reset it. Rows hold the SHA-256 of the lower-cased address, not
// the address, and are deleted once their interval has passed.
package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"

	"github.com/hubkit/hubkit/internal/store"
)

// TLS modes of Config.TLS.
const (
	// TLSStartTLS upgrades the connection with STARTTLS and refuses a relay
	// that does not offer it (the default; port 25 or 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (port 465).
	TLSImplicit = "tls"
	// TLSNone sends in the clear. Only for a relay on the same host or a
	// closed network segment: the mail itself holds no case content, but
	// the recipient's address does travel.
	TLSNone = "none"
)

// DefaultInterval is the least time between two mails to one recipient.
const DefaultInterval = time.Hour

// DefaultTimeout bounds one delivery to the relay.
const DefaultTimeout = 30 * time.Second

// Subject is the subject of every notification, Danish first.
const Subject = "Du har modtaget en ny sikker fil / You have a new drop"

var migrations = []string{
	// 1: when each recipient was last notified.
	`CREATE TABLE notifications_sent (
		recipient_hash BLOB PRIMARY KEY,   -- sha256 of the lower-cased e-mail address
		sent_at        INTEGER NOT NULL    -- Unix nanoseconds, UTC
	) WITHOUT ROWID;`,
}

// Config says how to reach the relay.
type Config struct {
	Addr     string // relay host:port, e.g. "smtp.aalborg.dk:25"
	From     string // sender address, e.g. "sikkerfil@aalborg.dk"
	FromName string // display name; default "hubkit"
	HeloName string // name given in EHLO; default "localhost"
	TLS      string // TLSStartTLS (default), TLSImplicit or TLSNone
	// TLSConfig is used for STARTTLS and implicit TLS, e.g. to trust a
	// municipality's own CA; ServerName defaults to Addr's host.
	TLSConfig *tls.Config
	// Username and Password, when set, log in with AUTH PLAIN, which is
	// only ever sent over TLS.
	Username string
	Password string
	Timeout  time.Duration    // default DefaultTimeout
	Interval time.Duration    // default DefaultInterval
	Now      func() time.Time // default time.Now; tests set a clock
}

// Notifier sends notifications. It is safe for concurrent use.
type Notifier struct {
	cfg  Config
	host string
	from *mail.Address
	db   *sql.DB
}

// New checks cfg and prepares the notifications_sent table in st.
func New(ctx context.Context, st *store.Store, cfg Config) (*Notifier, error) {
	if st == nil {
		return nil, errors.New("notify: no store")
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("notify: relay address %q is not host:port (e.g. smtp.kommune.dk:25)", cfg.Addr)
	}
	from, err := parseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("notify: sender %q: %w", cfg.From, err)
	}
	if cfg.FromName == "" {
		cfg.FromName = "hubkit"
	}
	from.Name = cfg.FromName
	if strings.ContainsAny(cfg.FromName+cfg.HeloName, "\r\n") {
		return nil, errors.New("notify: sender name and HELO name must be one line")
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "localhost"
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("notify: TLS mode %q is not one of %s, %s, %s", cfg.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if cfg.Username != "" && cfg.TLS == TLSNone {
		return nil, errors.New("notify: a relay login (username) needs TLS: set TLS to starttls or tls")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := st.Migrate(ctx, "notify", migrations); err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, host: host, from: from, db: st.DB()}, nil
}

// Notify mails recipientEmail that a new drop waits for them at hubURL,
// unless they were mailed less than an Interval ago. sent says whether a
// mail went out. An error means none did, and the recipient can be
// notified again at once.
func (n *Notifier) Notify(ctx context.Context, recipientEmail, hubURL string) (sent bool, err error) {
	to, err := parseAddress(recipientEmail)
	if err != nil {
		return false, fmt.Errorf("notify: recipient: %w", err)
	}
	link, err := checkHubURL(hubURL)
	if err != nil {
		return false, err
	}
	msg, err := n.message(to, link)
	if err != nil {
		return false, err
	}
	key := recipientKey(to.Address)
	now := n.cfg.Now().UTC()
	prev, ok, err := n.reserve(ctx, key, now)
	if err != nil || !ok {
		return false, err
	}
	if err := n.send(ctx, to.Address, msg); err != nil {
		n.release(key, now, prev)
		return false, err
	}
	return true, nil
}

// reserve records now as the recipient's last mail unless one went out
// within the interval. Doing this before sending, in one transaction,
// means two drops sealed at once cannot both mail. prev is the earlier
// record (0 if none), for release.
func (n *Notifier) reserve(ctx context.Context, key []byte, now time.Time) (prev int64, ok bool, err error) {
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, fmt.Errorf("notify: %w", err)
	}
	defer tx.Rollback()
	cutoff := now.Add(-n.cfg.Interval).UnixNano()
	// Rows past their interval only say who got mail when: delete them.
	if _, err := tx.ExecContext(ctx, `DELETE FROM notifications_sent WHERE sent_at <= ?`, cutoff); err != nil {
		return 0, false, fmt.Errorf("notify: %w", err)
	}
	err = tx.QueryRowContext(ctx, `SELECT sent_at FROM notifications_sent WHERE recipient_hash = ?`, key).Scan(&prev)
	switch {
	case err == nil:
		// Within the interval (older rows were just deleted).
		return prev, false, tx.Commit()
	case !errors.Is(err, sql.ErrNoRows):
		return 0, false, fmt.Errorf("notify: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notifications_sent (recipient_hash, sent_at) VALUES (?, ?)`, key, now.UnixNano()); err != nil {
		return 0, false, fmt.Errorf("notify: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("notify: %w", err)
	}
	return 0, true, nil
}

// release undoes a reservation whose mail failed, so the next drop may try
// again instead of waiting out the hour.
func (n *Notifier) release(key []byte, reserved time.Time, prev int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.db.ExecContext(ctx, `DELETE FROM notifications_sent WHERE recipient_hash = ? AND sent_at = ?`, key, reserved.UnixNano())
}

// send delivers one message through the relay.
func (n *Notifier) send(ctx context.Context, to string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	tlsCfg := n.tlsConfig()
	var conn net.Conn
	var err error
	if n.cfg.TLS == TLSImplicit {
		d := tls.Dialer{Config: tlsCfg}
		conn, err = d.DialContext(ctx, "tcp", n.cfg.Addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", n.cfg.Addr)
	}
	if err != nil {
		return fmt.Errorf("notify: cannot reach the SMTP relay %s: %w", n.cfg.Addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, n.host)
	if err != nil {
		conn.Close()
		return n.smtpErr(ctx, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(n.cfg.HeloName); err != nil {
		return n.smtpErr(ctx, "EHLO", err)
	}
	if n.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("notify: the SMTP relay %s does not offer STARTTLS; set TLS to %q for implicit TLS, or to %q only for a relay on this host", n.cfg.Addr, TLSImplicit, TLSNone)
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return n.smtpErr(ctx, "STARTTLS", err)
		}
	}
	if n.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", n.cfg.Username, n.cfg.Password, n.host)); err != nil {
			return n.smtpErr(ctx, "AUTH", err)
		}
	}
	if err := c.Mail(n.from.Address); err != nil {
		return n.smtpErr(ctx, "MAIL FROM", err)
	}
	if err := c.Rcpt(to); err != nil {
		return n.smtpErr(ctx, "RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return n.smtpErr(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return n.smtpErr(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return n.smtpErr(ctx, "end of DATA", err)
	}
	// The relay accepted the message at the end of DATA; a failed QUIT
	// does not unsend it, so its error does not matter.
	c.Quit()
	return nil
}

func (n *Notifier) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if n.cfg.TLSConfig != nil {
		cfg = n.cfg.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = n.host
	}
	return cfg
}

func (n *Notifier) smtpErr(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("notify: SMTP relay %s: %s: %w", n.cfg.Addr, step, ctx.Err())
	}
	return fmt.Errorf("notify: SMTP relay %s refused %s: %w", n.cfg.Addr, step, err)
}

// message builds the mail. Its text is fixed: only the addresses and the
// link vary, so no case content can slip in.
func (n *Notifier) message(to *mail.Address, link string) ([]byte, error) {
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("notify: random: %w", err)
	}
	domain := n.from.Address[strings.LastIndexByte(n.from.Address, '@')+1:]
	var b bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	header("From", n.from.String())
	header("To", (&mail.Address{Address: to.Address}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", Subject))
	header("Date", n.cfg.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	fmt.Fprintf(qp, body, link, link)
	if err := qp.Close(); err != nil {
		return nil, fmt.Errorf("notify: encode: %w", err)
	}
	return b.Bytes(), nil
}

// body is the whole text; %s is the hub's link.
const body = "Du har modtaget en ny sikker fil i hubben.\r\n" +
	"Log ind for at se den:\r\n" +
	"%s\r\n" +
	"\r\n" +
	"Af sikkerhedshensyn står der ikke mere i denne mail.\r\n" +
	"\r\n" +
	"--\r\n" +
	"\r\n" +
	"You have a new secure file (a drop) in the hub.\r\n" +
	"Log in to see it:\r\n" +
	"%s\r\n" +
	"\r\n" +
	"For security reasons this mail says nothing more.\r\n"

// parseAddress accepts one bare address (no display name, no header
// injection) and lower-cases its domain.
func parseAddress(s string) (*mail.Address, error) {
	if s == "" {
		return nil, errors.New("no e-mail address")
	}
	if strings.ContainsAny(s, "\r\n<>,") {
		return nil, fmt.Errorf("%q is not a single bare e-mail address", s)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return nil, fmt.Errorf("%q is not a single bare e-mail address", s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	a.Address = a.Address[:at] + strings.ToLower(a.Address[at:])
	return a, nil
}

// recipientKey is what the rate limit is kept under.
func recipientKey(addr string) []byte {
	sum := sha256.Sum256([]byte(strings.ToLower(addr)))
	return sum[:]
}

// checkHubURL accepts an absolute https URL (http only for loopback and
// *.localhost, for development) and returns it in canonical form. A query
// or fragment is refused: they are where a caller might carry state that
// does not belong in a mail.
func checkHubURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" || u.RawQuery != "" {
		return "", fmt.Errorf("notify: hub URL %q is not an absolute URL without query or fragment, such as https://sikkerfil.aalborg.dk/", s)
	}
	host := u.Hostname()
	local := host == "localhost" || strings.HasSuffix(host, ".localhost")
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		local = true
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && local) {
		return "", fmt.Errorf("notify: hub URL %q must use https", s)
	}
	return u.String(), nil
}
