"""SMTP sink for hubkit's notify tests: a real SMTP server (Debian's
python3-aiosmtpd) that writes every message it accepts to a directory.

    python3 smtpsink.py OUTDIR [--tls CERT KEY] [--user NAME --password PW]

It picks a free port on 127.0.0.1, prints "READY <port>" and serves until
its standard input closes (the test ended) or it is killed. Each message is
written as OUTDIR/NNNN.eml (renamed into place when complete) with the
envelope and the session's TLS and AUTH state as X-Sink-* headers first,
so a test can check what the relay really saw.
"""

import argparse
import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        final = os.path.join(self.outdir, "%04d.eml" % self.count)
        tmp = final + ".tmp"
        head = ["X-Sink-Mail-From: %s" % envelope.mail_from]
        head += ["X-Sink-Rcpt-To: %s" % r for r in envelope.rcpt_tos]
        head.append("X-Sink-TLS: %s" % ("yes" if session.ssl else "no"))
        head.append("X-Sink-Auth: %s" % (session.login_data.decode() if session.authenticated else "none"))
        with open(tmp, "wb") as f:
            f.write(("\r\n".join(head) + "\r\n").encode())
            f.write(envelope.original_content)
        os.rename(tmp, final)
        return "250 2.0.0 stored"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("outdir")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--user")
    p.add_argument("--password")
    a = p.parse_args()

    kwargs = {}
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls[0], a.tls[1])
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = True
    if a.user:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == a.user
                  and auth_data.password.decode() == a.password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    c = Controller(Sink(a.outdir), hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    print("READY %d" % port, flush=True)
    try:
        sys.stdin.read()
    finally:
        c.stop()


if __name__ == "__main__":
    main()
