// Package testenv starts the real components that hubkit's end-to-end tests
// run against: an independent OpenID Provider (npm oidc-provider, run with
// node from testdata/oidcprovider), headless Chromium driven over the Chrome
// DevTools Protocol (chromedp), and axe-core for accessibility checks.
//
// It is a helper package for tests: its files are ordinary .go files so that
// the tests of other packages can import it, but nothing outside tests should.
//
// Missing pieces are installed on the fly, as `make test` does on a fresh
// machine (see .ci/install-deps): `npm ci` in testdata/oidcprovider when its
// node_modules is missing or older than package-lock.json, and the Debian
// package chromium (apt-get, as root) when no Chromium is found. A test that
// needs a component which cannot be had fails with a message that says how
// to get it; it is never skipped.
package testenv
