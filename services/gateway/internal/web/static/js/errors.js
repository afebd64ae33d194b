// API errors in the UI's language. The API keeps its contract messages (in
// English, for tools); people see text chosen here from the status and the
// field, never the server's own text, which may also be an HTML error page
// from a proxy.
import { t } from './i18n.js';

// Known contract messages per field; anything else falls back to a text for
// the field, then to a generic one. Order matters: the first match wins.
const rules = [
  [/required|may not be (null|blank)|not be blank|This field may not/i, 'err.required'],
  [/valid email/i, 'err.email.invalid'],
  [/already registered|already exists/i, 'err.exists'],
  [/password fields didn'?t match/i, 'signup.mismatch'],
  [/too short|at least \d+ characters/i, 'err.password.short'],
  [/too common/i, 'err.password.common'],
  [/entirely numeric/i, 'err.password.numeric'],
  [/too similar/i, 'err.password.similar'],
  [/no more than|too long|at most/i, 'err.toolong'],
  [/not a valid choice/i, 'err.choice'],
  [/Invalid pk|does not exist|object does not exist/i, 'err.notexist'],
  [/Unknown field/i, 'err.unknownfield'],
  [/cannot add yourself/i, 'err.friend.self'],
  [/Unable to log in|credentials/i, 'err.login'],
  [/NUL|null characters/i, 'err.invalidtext'],
];

// Pictures (profile and post images) have messages of their own.
const pictureRules = [
  [/maximum size|5 MiB/i, 'common.tooLarge'],
  [/pixels/i, 'err.image.big'],
  [/empty|valid image|corrupted/i, 'err.image'],
];

/** fieldMessage returns the UI text for one of the API's messages about a field. */
export function fieldMessage(field, msg) {
  if (/picture|image/.test(field)) for (const [re, key] of pictureRules) if (re.test(String(msg))) return t(key);
  for (const [re, key] of rules) if (re.test(String(msg))) return t(key);
  return t('err.field');
}

/** localFields maps a 400 body {"field": ["msg", …]} to the same shape in the UI's language. */
export function localFields(fields) {
  const out = {};
  for (const [k, v] of Object.entries(fields || {})) {
    const msgs = Array.isArray(v) ? v : [v];
    out[k] = [...new Set(msgs.map((m) => fieldMessage(k, typeof m === 'string' ? m : '')))];
  }
  return out;
}

/** errorText is the UI text for a failed request (an ApiError or a network failure). */
export function errorText(err) {
  const status = err && err.status;
  if (!status) return t('err.network');
  const detail = String(err.body?.detail || err.body?.message || '');
  switch (status) {
    case 400: return t('err.field');
    case 401: return /credentials/i.test(detail) && /Unable/i.test(detail) ? t('err.login') : t('common.loginrequired');
    case 403: return /private/i.test(detail) ? t('err.private') : t('err.forbidden');
    case 404: return /User with this email/i.test(detail) ? t('err.nouser') : t('err.notfound');
    case 413: return t('common.tooLarge');
    case 429: return /login/i.test(detail) ? t('login.throttled') : t('err.throttled');
    default: return status >= 500 ? t('common.error') : t('err.generic');
  }
}
