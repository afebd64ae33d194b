// Who is logged in. The access token is an HttpOnly cookie the page cannot
// read, so the profile endpoint is the source of truth; a localStorage hint
// only avoids a needless 401 round trip for visitors who never logged in.
import { api, ApiError } from './api.js';
import { forgetDevice } from './push.js';

const hintKey = 'cobra.session';
let me = null;
const listeners = new Set();

/** current returns the logged-in user's profile, or null. */
export const current = () => me;

/** onChange registers fn(profile|null), called whenever the session changes. */
export function onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

/** set replaces the session's profile and notifies listeners. */
export function set(profile) {
  // Only GET profile/ tells is_staff: another answer carrying the same
  // user's profile (a profile update) keeps what it said.
  if (profile && me && profile.user === me.user && profile.is_staff === undefined) profile = { ...profile, is_staff: me.is_staff };
  me = profile || null;
  try { if (me) localStorage.setItem(hintKey, '1'); else localStorage.removeItem(hintKey); } catch { /* ignore */ }
  for (const fn of listeners) fn(me);
}

/** load asks the API who we are (refreshing the token when needed). */
export async function load() {
  let hinted = true;
  try { hinted = localStorage.getItem(hintKey) === '1'; } catch { /* ignore */ }
  if (!hinted) { set(null); return null; }
  try {
    set(await api('/api/user/profile/'));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    set(null);
  }
  return me;
}

/** login posts credentials; the API sets the cookies. Throws ApiError. */
export async function login(email, password) {
  const data = await api('/api/user/login/', { method: 'POST', body: { email, password } });
  // The login answer's profile lacks is_staff (GET profile/ has it).
  set(await api('/api/user/profile/').catch(() => data.profile));
  return data;
}

/** logout revokes the session server-side (which also closes its sockets). */
export async function logout() {
  await forgetDevice();
  try { await api('/api/user/logout/', { method: 'POST' }); } catch { /* the session is gone either way */ }
  set(null);
}

/** isMe tells whether a user reference (id, email or {id,email}) is the logged-in user. */
export function isMe(ref) {
  if (!me || ref === null || ref === undefined) return false;
  if (typeof ref === 'object') return (ref.email && ref.email === me.email) || (ref.id !== undefined && ref.id === me.user);
  return ref === me.email || ref === me.user;
}
