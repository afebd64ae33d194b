// The REST client. Auth rides on the HttpOnly access_token cookie that login
// sets, so every call is same-origin with credentials; unsafe methods are
// same-origin too, which is what the gateway's Origin-based CSRF check wants.
// A 401 triggers one token refresh (the refresh_token cookie) and a retry.
import { errorText, localFields } from './errors.js';

/**
 * ApiError is a non-2xx answer: status, the parsed body (for decisions, never
 * for display), and message and field errors in the UI's language.
 */
export class ApiError extends Error {
  constructor(status, body) {
    super('');
    this.status = status;
    this.body = body && typeof body === 'object' ? body : {};
    this.message = errorText(this);
    this.fields = status === 400 && !this.body.detail ? localFields(this.body) : {};
  }
}

let refreshing = null;

/** refresh rotates the token pair from the refresh cookie; resolves true when it worked. */
export function refresh() {
  if (!refreshing) {
    // Bounded: a refresh that never answers must not hold up every caller
    // (a socket's reconnect waits on it).
    refreshing = fetch('/api/user/token/refresh/', {
      method: 'POST', credentials: 'same-origin', signal: AbortSignal.timeout(10000),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: '{}',
    }).then((r) => r.ok, () => false).finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  }
  return refreshing;
}

const noRetry = new Set(['/api/user/login/', '/api/user/token/refresh/', '/api/user/registration/', '/api/user/logout/']);

/**
 * request calls the API and returns {data, res}. body: a plain object is sent
 * as JSON, a FormData as multipart. Throws ApiError for non-2xx answers and a
 * TypeError when the network fails.
 */
export async function request(url, { method = 'GET', body, retry = true } = {}) {
  const headers = { Accept: 'application/json' };
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) { headers['Content-Type'] = 'application/json'; payload = JSON.stringify(body); }
  const res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin' });
  if (res.status === 401 && retry && !noRetry.has(new URL(url, location.href).pathname) && await refresh()) {
    return request(url, { method, body, retry: false });
  }
  let data = null;
  const text = res.status === 204 ? '' : await res.text();
  // A proxy's HTML error page is not JSON: keep only the status.
  if (text) { try { data = JSON.parse(text); } catch { data = null; } }
  if (!res.ok) throw new ApiError(res.status, data);
  return { data, res };
}

/** api returns just the parsed body of request. */
export async function api(url, opts) {
  return (await request(url, opts)).data;
}

/** list fetches a page of a list endpoint: {items, next} where next is the Link rel="next" URL or null. */
export async function list(url) {
  const { data, res } = await request(url);
  return { items: Array.isArray(data) ? data : (data?.results || []), next: nextLink(res.headers.get('Link')) };
}

/** nextLink extracts the same-origin path of rel="next" from a Link header. */
export function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(',')) {
    const m = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    if (m) {
      const u = new URL(m[1], location.href);
      return u.pathname + u.search;
    }
  }
  return null;
}

/** qs builds a query string from the non-empty values of params. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}
