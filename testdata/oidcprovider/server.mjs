// An independent OpenID Provider for hubkit's end-to-end tests, built on
// panva's oidc-provider. It is configured by one JSON file (see README.md):
//
//   node server.mjs /path/to/config.json
//   OIDC_TEST_CONFIG=/path/to/config.json node server.mjs
//
// It serves exactly one provider with exactly one registered client and prints
// the single line "READY <issuer>" on stdout once it is listening. Everything
// else (oidc-provider notices, request errors) goes to stderr.
//
// Besides the provider itself it serves, outside the issuer path:
//   GET  /interaction/...            the login form (no JavaScript) and auto-consent
//   POST /__test/backchannel-logout  {"sub"?, "sid"?} sends a back-channel logout
//   GET  /__test/sessions            the current OP sessions (sub, sid)
// The /__test/ endpoints exist for tests only and have no authentication.

import { randomBytes } from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import process from 'node:process';

import * as jose from 'jose';
import Provider from 'oidc-provider';

// Keep stdout for the READY line: oidc-provider prints notices with console.info.
console.info = console.error;
console.log = console.error;

function fail(message) {
  process.stderr.write(`oidcprovider: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------
// configuration

const configPath = process.argv[2] || process.env.OIDC_TEST_CONFIG;
if (!configPath) {
  fail('usage: node server.mjs CONFIG.json (or set OIDC_TEST_CONFIG)');
}

let cfg;
try {
  cfg = JSON.parse(fs.readFileSync(configPath, 'utf8'));
} catch (err) {
  fail(`cannot read config ${configPath}: ${err.message}`);
}

const SUPPORTED_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'];
const host = cfg.host || '127.0.0.1';
const port = Number.isInteger(cfg.port) ? cfg.port : 0;
const alg = cfg.idTokenSigningAlg || 'RS256';
const client = cfg.client;
const accounts = new Map();

if (!SUPPORTED_ALGS.includes(alg)) {
  fail(`idTokenSigningAlg ${JSON.stringify(alg)} is not supported; use one of ${SUPPORTED_ALGS.join(', ')}`);
}
if (!client || typeof client !== 'object') {
  fail('config.client is missing: give clientId, clientSecret and redirectUris');
}
for (const field of ['clientId', 'clientSecret']) {
  if (typeof client[field] !== 'string' || client[field] === '') {
    fail(`config.client.${field} must be a non-empty string`);
  }
}
if (!Array.isArray(client.redirectUris) || client.redirectUris.length === 0) {
  fail('config.client.redirectUris must list at least one redirect URI');
}
const authMethod = client.tokenEndpointAuthMethod || 'client_secret_basic';
if (!['client_secret_basic', 'client_secret_post'].includes(authMethod)) {
  fail(`config.client.tokenEndpointAuthMethod ${JSON.stringify(authMethod)} must be client_secret_basic or client_secret_post`);
}
if (!Array.isArray(cfg.accounts) || cfg.accounts.length === 0) {
  fail('config.accounts must list at least one account ({"accountId": "...", "claims": {...}})');
}
for (const [i, account] of cfg.accounts.entries()) {
  if (typeof account.accountId !== 'string' || account.accountId === '') {
    fail(`config.accounts[${i}].accountId must be a non-empty string`);
  }
  if (accounts.has(account.accountId)) {
    fail(`config.accounts[${i}].accountId ${JSON.stringify(account.accountId)} is a duplicate`);
  }
  accounts.set(account.accountId, account);
}
for (const key of ['idTokenTTL', 'accessTokenTTL', 'sessionTTL']) {
  if (cfg[key] !== undefined && !(Number.isInteger(cfg[key]) && cfg[key] > 0)) {
    fail(`config.${key} must be a positive whole number of seconds`);
  }
}

// Every claim that any account carries is released with the openid scope, so
// that a client asking for "openid" alone gets them all in the ID token, as
// Entra ID and OS2faktor do with their configured claims.
function defaultClaimsByScope() {
  const names = new Set(['sub']);
  for (const account of accounts.values()) {
    for (const name of Object.keys(account.claims || {})) {
      names.add(name);
    }
  }
  return { openid: [...names] };
}
const claimsByScope = cfg.claimsByScope || defaultClaimsByScope();

// ---------------------------------------------------------------------------
// outbound HTTP (back-channel logout): allow loopback, *.localhost and a test CA

function loopbackLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (options && options.all) {
      callback(null, [{ address: '127.0.0.1', family: 4 }]);
    } else {
      callback(null, '127.0.0.1', 4);
    }
    return;
  }
  dns.lookup(hostname, options, callback);
}

const outboundTLS = cfg.outboundTLS || {};
let outboundCA;
if (outboundTLS.caFile) {
  try {
    outboundCA = fs.readFileSync(outboundTLS.caFile);
  } catch (err) {
    fail(`config.outboundTLS.caFile: ${err.message}`);
  }
}

// oidc-provider's default fetch refuses loopback and private addresses (SSRF
// protection). The hub under test lives on loopback, so outbound calls use
// node:http(s) directly instead.
function testFetch(url, options = {}) {
  const target = new URL(url);
  const mod = target.protocol === 'https:' ? https : http;
  const headers = {};
  new Headers(options.headers).forEach((value, key) => {
    headers[key] = value;
  });
  let body = options.body;
  if (body instanceof URLSearchParams) {
    body = body.toString();
  }
  if (typeof body === 'string') {
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = mod.request(target, {
      method: options.method || 'GET',
      headers,
      lookup: loopbackLookup,
      signal: options.signal,
      ca: outboundCA,
      rejectUnauthorized: !outboundTLS.insecureSkipVerify,
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const responseHeaders = new Headers();
        for (const [key, value] of Object.entries(res.headers)) {
          for (const v of [].concat(value)) {
            responseHeaders.append(key, v);
          }
        }
        const nullBody = [101, 204, 205, 304].includes(res.statusCode);
        resolve(new Response(nullBody ? null : Buffer.concat(chunks), {
          status: res.statusCode,
          statusText: res.statusMessage,
          headers: responseHeaders,
        }));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------
// storage: an in-memory adapter whose sessions can be listed (for /__test/)

const store = new Map(); // "Model:id" -> { payload, expiresAt }

function now() {
  return Math.floor(Date.now() / 1000);
}

function live(entry) {
  return entry && (!entry.expiresAt || entry.expiresAt > now());
}

class TestAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    store.set(this.key(id), {
      payload,
      expiresAt: typeof expiresIn === 'number' ? now() + expiresIn : undefined,
    });
  }

  async find(id) {
    const entry = store.get(this.key(id));
    return live(entry) ? entry.payload : undefined;
  }

  async findByUid(uid) {
    return this.findBy((payload) => payload.uid === uid);
  }

  async findByUserCode(userCode) {
    return this.findBy((payload) => payload.userCode === userCode);
  }

  async findBy(match) {
    const prefix = `${this.model}:`;
    for (const [key, entry] of store) {
      if (key.startsWith(prefix) && live(entry) && match(entry.payload)) {
        return entry.payload;
      }
    }
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) {
      entry.payload.consumed = now();
    }
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, entry] of store) {
      if (entry.payload.grantId === grantId) {
        store.delete(key);
      }
    }
  }
}

function liveSessions() {
  const sessions = [];
  for (const [key, entry] of store) {
    if (key.startsWith('Session:') && live(entry)) {
      sessions.push({ id: key.slice('Session:'.length), payload: entry.payload });
    }
  }
  return sessions;
}

// ---------------------------------------------------------------------------
// HTML (no external resources, no JavaScript)

function esc(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const title = cfg.loginTitle || 'Test identity provider';

function page(heading, content) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(heading)} – ${esc(title)}</title>
<style>
body{font-family:sans-serif;margin:2rem;color:#1a1a1a;background:#fff}
main{max-width:28rem}
label{display:block;margin:1rem 0 .25rem}
input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}
button{font-size:1rem;margin-top:1rem;padding:.5rem 1rem;color:#fff;background:#0b5394;border:0}
.error{color:#a00000}
</style>
</head>
<body>
<main>
<h1>${esc(heading)}</h1>
<p>${esc(title)}</p>
${content}
</main>
</body>
</html>
`;
}

function loginPage(uid, clientId, error, username = '') {
  return page('Sign in', `
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="${esc(interactionPath(uid))}/login">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required value="${esc(username)}">
<button id="login" type="submit">Sign in</button>
</form>
<p>Signing in to <code>${esc(clientId)}</code>.</p>`);
}

// ---------------------------------------------------------------------------
// provider

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, host, resolve);
});
const actualPort = server.address().port;
const base = `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
const issuer = cfg.issuer || `${base}${cfg.issuerPath || ''}`;
const mountPath = new URL(issuer).pathname.replace(/\/$/, '');

function interactionPath(uid) {
  return `${mountPath}/interaction/${uid}`;
}

async function signingKeys() {
  const keys = [];
  const add = async (kid, algorithm, options) => {
    const { privateKey } = await jose.generateKeyPair(algorithm, { extractable: true, ...options });
    keys.push({ ...(await jose.exportJWK(privateKey)), kid, use: 'sig' });
  };
  // An RSA key always exists (RS256 is mandatory to implement); other algs add theirs.
  await add('rsa-1', 'RS256', { modulusLength: 2048 });
  if (alg === 'ES256') {
    await add('ec-1', 'ES256');
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') {
    await add('ed-1', 'Ed25519');
  }
  return { keys };
}

const clientMetadata = {
  client_id: client.clientId,
  client_secret: client.clientSecret,
  client_name: client.clientName || client.clientId,
  application_type: 'web',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: client.redirectUris,
  post_logout_redirect_uris: client.postLogoutRedirectUris || [],
  token_endpoint_auth_method: authMethod,
  id_token_signed_response_alg: alg,
};
if (client.backchannelLogoutUri) {
  clientMetadata.backchannel_logout_uri = client.backchannelLogoutUri;
  clientMetadata.backchannel_logout_session_required = client.backchannelLogoutSessionRequired !== false;
}

const provider = new Provider(issuer, {
  adapter: TestAdapter,
  clients: [clientMetadata],
  jwks: await signingKeys(),
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { acr: null, sid: null, auth_time: null, iss: null, ...claimsByScope },
  scopes: cfg.scopes || ['openid', 'offline_access', 'profile', 'email'],
  conformIdTokenClaims: false,
  pkce: { required: () => cfg.pkceRequired !== false },
  fetch: testFetch,
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Sign out', `${form}
<p>Do you want to sign out?</p>
<button id="logout-yes" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="logout-no" type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'],
  },
  ttl: {
    AccessToken: cfg.accessTokenTTL || 3600,
    AuthorizationCode: 60,
    IdToken: cfg.idTokenTTL || 3600,
    Interaction: 600,
    Session: cfg.sessionTTL || 8 * 3600,
    Grant: cfg.sessionTTL || 8 * 3600,
    RefreshToken: 24 * 3600,
  },
  interactions: {
    url: (ctx, interaction) => interactionPath(interaction.uid),
  },
  findAccount: async (ctx, sub) => {
    const account = accounts.get(sub);
    if (!account) {
      return undefined;
    }
    return {
      accountId: sub,
      claims: async () => ({ ...(account.claims || {}), sub }),
    };
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out)
      .map(([key, value]) => `<p><strong>${esc(key)}</strong>: ${esc(value)}</p>`).join('\n'));
  },
});

provider.on('server_error', (ctx, err) => console.error('oidcprovider server_error:', err));
provider.on('backchannel.error', (ctx, err) => console.error('oidcprovider backchannel.error:', err.message));

const providerCallback = provider.callback();

// ---------------------------------------------------------------------------
// request handling

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) {
      throw new Error('request body too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJSON(res, status, value) {
  send(res, status, 'application/json', `${JSON.stringify(value)}\n`);
}

async function handleInteraction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, 'text/plain; charset=utf-8', 'interaction mismatch\n');
    return;
  }
  const { prompt, params, session } = details;

  if (action === 'login' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const username = (form.get('username') || '').trim();
    const account = accounts.get(username);
    if (!account) {
      send(res, 401, 'text/html; charset=utf-8', loginPage(uid, params.client_id, `Unknown user ${username}`, username));
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: username, acr: account.acr, amr: account.amr },
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (action === '' && req.method === 'GET') {
    if (prompt.name === 'login') {
      send(res, 200, 'text/html; charset=utf-8', loginPage(uid, params.client_id));
      return;
    }
    if (prompt.name === 'consent') {
      // Auto-consent: grant everything that was asked for.
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const missing = prompt.details;
      if (missing.missingOIDCScope) {
        grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      }
      if (missing.missingOIDCClaims) {
        grant.addOIDCClaims(missing.missingOIDCClaims);
      }
      if (missing.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    send(res, 400, 'text/plain; charset=utf-8', `unsupported prompt ${prompt.name}\n`);
    return;
  }
  send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
}

// POST /__test/backchannel-logout {"sub"?: "...", "sid"?: "..."}
// Finds the OP sessions of sub (or the one with sid), sends a logout token to
// the client's backchannel_logout_uri for each, and ends those sessions.
async function handleBackchannelLogout(req, res) {
  let body;
  try {
    body = JSON.parse((await readBody(req)) || '{}');
  } catch (err) {
    sendJSON(res, 400, { error: `body must be JSON: ${err.message}` });
    return;
  }
  const { sub, sid } = body;
  if (!sub && !sid) {
    sendJSON(res, 400, { error: 'give sub, sid or both' });
    return;
  }
  const rp = await provider.Client.find(client.clientId);
  if (!rp.backchannelLogoutUri) {
    sendJSON(res, 409, { error: 'client has no backchannelLogoutUri in the config' });
    return;
  }

  const targets = [];
  const ended = [];
  for (const { id, payload } of liveSessions()) {
    const authz = payload.authorizations?.[client.clientId];
    if (!authz) continue;
    if (sub && payload.accountId !== sub) continue;
    if (sid && authz.sid !== sid) continue;
    targets.push({ sub: payload.accountId, sid: authz.sid });
    ended.push(id);
  }
  if (targets.length === 0) {
    if (sub && (sid || !rp.backchannelLogoutSessionRequired)) {
      targets.push({ sub, sid });
    } else {
      sendJSON(res, 404, { error: `no OP session for ${JSON.stringify(body)} with client ${client.clientId}` });
      return;
    }
  }

  const sent = [];
  for (const target of targets) {
    try {
      await rp.backchannelLogout(target.sub, target.sid);
      sent.push(target);
    } catch (err) {
      sendJSON(res, 502, { error: `back-channel logout to ${rp.backchannelLogoutUri} failed: ${err.message}`, sent });
      return;
    }
  }
  for (const id of ended) {
    store.delete(`Session:${id}`);
  }
  sendJSON(res, 200, { sent });
}

function handleSessions(req, res) {
  const sessions = [];
  for (const { payload } of liveSessions()) {
    if (!payload.accountId) continue;
    sessions.push({
      sub: payload.accountId,
      sid: payload.authorizations?.[client.clientId]?.sid || '',
    });
  }
  sendJSON(res, 200, { sessions });
}

server.on('request', async (req, res) => {
  try {
    const { pathname } = new URL(req.url, base);
    if (pathname === '/__test/backchannel-logout' && req.method === 'POST') {
      await handleBackchannelLogout(req, res);
      return;
    }
    if (pathname === '/__test/sessions' && req.method === 'GET') {
      handleSessions(req, res);
      return;
    }
    const interaction = pathname.startsWith(`${mountPath}/interaction/`)
      && /^([^/]+)(?:\/(login))?$/.exec(pathname.slice(`${mountPath}/interaction/`.length));
    if (interaction) {
      await handleInteraction(req, res, interaction[1], interaction[2] || '');
      return;
    }
    if (mountPath && (pathname === mountPath || pathname.startsWith(`${mountPath}/`))) {
      // Mount the provider below the issuer's path, as Express' app.use would.
      req.originalUrl = req.url;
      req.url = req.url.slice(mountPath.length) || '/';
      providerCallback(req, res);
      return;
    }
    if (mountPath) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    providerCallback(req, res);
  } catch (err) {
    console.error('oidcprovider request error:', err);
    if (!res.headersSent) {
      // oidc-provider errors (e.g. an interaction cookie that is missing or
      // expired) carry error and error_description.
      const lines = err.error
        ? [['error', err.error], ['error_description', err.error_description]]
        : [['error', err.message]];
      send(res, err.statusCode || err.status || 500, 'text/html; charset=utf-8', page('Error', lines
        .map(([key, value]) => `<p><strong>${esc(key)}</strong>: ${esc(value)}</p>`).join('\n')));
    } else {
      res.end();
    }
  }
});

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// A parent that dies without killing us closes our stdin: exit then too, so no
// provider outlives its test. (Only when stdin is a pipe; a terminal keeps it.)
if (process.env.OIDC_TEST_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

process.stdout.write(`READY ${issuer}\n`);
