// Own profile (view and edit with picture upload) and other users' profiles.
import { h, avatar, splitList, toast, icon } from '../dom.js';
import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { errorText } from '../errors.js';
import * as session from '../session.js';
import { field, clearErrors, showErrors, formError, busy } from '../form.js';
import { loginHref } from './common.js';
import { pushSection } from '../push.js';
import { dmButton } from '../dm.js';
import { blockButton } from '../blocks.js';

const statuses = ['available', 'away', 'busy'];

function chips(items) {
  if (!items || !items.length) return h('p', { class: 'muted' }, t('profile.none'));
  return h('ul', { class: 'chips' }, items.map((x) => h('li', { class: 'chip' }, String(x))));
}

/** profileCard renders a profile object read-only. */
function profileCard(p, { own }) {
  const status = statuses.includes(p.status) ? p.status : 'available';
  return h('section', { class: 'profile card', id: 'profile' },
    h('div', { class: 'profile-cover', attrs: { 'aria-hidden': 'true' } }),
    h('div', { class: 'profile-head' },
      avatar(p.profile_picture_url, p.nickname || p.email, 'xl'),
      h('div', { class: 'profile-id' },
        h('h1', { class: 'profile-name' }, p.nickname || p.email,
          p.is_private ? h('span', { class: 'badge badge-muted', title: t('profile.private') }, icon('lock'), ` ${t('profile.private')}`) : null),
        h('p', { class: 'muted' }, p.email),
        h('span', { class: `status status-${status}` }, t(`status.${status}`))),
      own ? h('a', { href: '/profile/edit', class: 'btn btn-ghost', id: 'edit-profile', attrs: { 'data-link': '' } }, t('profile.edit')) : null),
    h('div', { class: 'profile-body' },
      h('section', {}, h('h2', {}, t('profile.bio')), p.bio ? h('p', { class: 'bio' }, p.bio) : h('p', { class: 'muted' }, t('profile.nobio'))),
      h('section', {}, h('h2', {}, t('profile.skills')), chips(p.skills)),
      h('section', {}, h('h2', {}, t('profile.interests')), chips(p.interests)),
      own && p.contact_number ? h('section', {}, h('h2', {}, t('profile.contact')), h('p', {}, p.contact_number)) : null,
      own ? h('section', {}, h('h2', {}, t('menu.friends')),
        h('a', { href: '/friends', attrs: { 'data-link': '' } }, t('profile.friends', { n: (p.friends_emails || []).length }))) : null));
}

/** profilePage renders /profile (the logged-in user's own). */
export async function profilePage({ main, navigate, isCurrent }) {
  if (!session.current()) { navigate(loginHref(), { replace: true }); return; }
  document.title = `${t('profile.title')} · Cobra Space`;
  const p = await api('/api/user/profile/');
  if (!isCurrent()) return;
  session.set(p);
  main.append(h('div', { class: 'narrow' }, profileCard(p, { own: true }), pushSection()));
}

/** userPage renders /users/<id>: someone's profile, or the contract's private message. */
export async function userPage({ main, params, navigate, isCurrent }) {
  if (!session.current()) { navigate(loginHref(), { replace: true }); return; }
  if (String(session.current().user) === params[0]) { navigate('/profile', { replace: true }); return; }
  try {
    const p = await api(`/api/user/friend-profile/${params[0]}/`);
    if (!isCurrent()) return;
    document.title = `${p.nickname || p.email} · Cobra Space`;
    const card = profileCard(p, { own: false });
    card.querySelector('.profile-head').append(dmButton(p.id ?? params[0], navigate), blockButton(p.id ?? params[0]));
    main.append(h('div', { class: 'narrow' }, card));
  } catch (err) {
    if (!isCurrent()) return;
    if (!(err instanceof ApiError) || ![403, 404].includes(err.status)) throw err;
    main.append(h('div', { class: 'narrow' }, h('div', { class: 'empty-state card', id: 'profile-private' },
      h('div', { class: 'big-icon', attrs: { 'aria-hidden': 'true' } }, icon(err.status === 403 ? 'lock' : 'question')),
      h('p', {}, err.message),
      err.status === 403 ? dmButton(params[0], navigate) : null,
      err.status === 403 ? blockButton(params[0]) : null,
      h('a', { href: '/friends', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('menu.friends')))));
  }
}

/** profileEditPage renders /profile/edit. */
export async function profileEditPage({ main, navigate, isCurrent }) {
  if (!session.current()) { navigate(loginHref(), { replace: true }); return; }
  document.title = `${t('profile.edit')} · Cobra Space`;
  const p = await api('/api/user/profile/');
  if (!isCurrent()) return;

  let preview = avatar(p.profile_picture_url, p.nickname || p.email, 'xl');
  const previewBox = h('div', { class: 'picture-preview' }, preview);
  const picture = h('input', { type: 'file', id: 'f-profile_picture', accept: 'image/png,image/jpeg,image/gif,image/webp', class: 'file-input' });
  const pictureError = h('p', { class: 'field-error', id: 'f-profile_picture-error', hidden: true, attrs: { role: 'alert' } });
  const refusePicture = (key) => {
    picture.value = '';
    pictureError.replaceChildren(h('span', {}, t(key)));
    pictureError.hidden = false;
  };
  picture.addEventListener('change', async () => {
    pictureError.hidden = true;
    const file = picture.files[0];
    if (!file) return;
    if (file.size > 5 * 1024 * 1024) { refusePicture('common.tooLarge'); return; }
    // Decode it here first: a file that is no image is named as such at once,
    // and the preview never shows a broken picture.
    try { (await createImageBitmap(file)).close(); } catch { refusePicture('err.image'); return; }
    // blob: previews are not allowed by img-src; read it as a data: URL instead.
    const reader = new FileReader();
    reader.onload = () => { const img = h('img', { class: 'avatar avatar-xl', src: reader.result, alt: '' }); preview.replaceWith(img); preview = img; };
    reader.readAsDataURL(file);
  });
  const nickname = h('input', { type: 'text', value: p.nickname || '', maxLength: 20 });
  const bio = h('textarea', { rows: 4, value: p.bio || '', maxLength: 500 });
  const skills = h('input', { type: 'text', value: (p.skills || []).join(', '), placeholder: 'Go, PostgreSQL, Kubernetes' });
  const interests = h('input', { type: 'text', value: (p.interests || []).join(', '), placeholder: 'distributed systems, compilers' });
  const status = h('select', { class: 'select' }, statuses.map((s) => h('option', { value: s, selected: p.status === s }, t(`status.${s}`))));
  const contact = h('input', { type: 'tel', value: p.contact_number || '', autocomplete: 'tel', maxLength: 20 });
  const isPrivate = h('input', { type: 'checkbox', checked: !!p.is_private, id: 'f-is_private' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'));

  const form = h('form', { class: 'form card profile-form', id: 'profile-form', noValidate: true },
    h('h1', {}, t('profile.edit')),
    formError(),
    h('div', { class: 'field picture-field', dataset: { field: 'profile_picture' } },
      previewBox,
      h('div', {}, h('label', { for: 'f-profile_picture', class: 'btn btn-ghost' }, t('profile.picture.choose')),
        picture, h('p', { class: 'field-hint' }, 'PNG, JPEG, GIF, WebP · 5MB'), pictureError)),
    field({ name: 'nickname', label: t('field.nickname'), control: nickname }),
    field({ name: 'bio', label: t('profile.bio'), control: bio }),
    h('div', { class: 'field-row' },
      field({ name: 'skills', label: t('profile.skills'), control: skills, hint: t('write.tags.hint') }),
      field({ name: 'interests', label: t('profile.interests'), control: interests, hint: t('write.tags.hint') })),
    h('div', { class: 'field-row' },
      field({ name: 'status', label: t('profile.status'), control: status }),
      field({ name: 'contact_number', label: t('profile.contact'), control: contact })),
    h('div', { class: 'field field-check', dataset: { field: 'is_private' } },
      isPrivate, h('label', { for: 'f-is_private' }, t('profile.private'), h('span', { class: 'field-hint' }, t('profile.private.hint'))),
      h('p', { class: 'field-error', hidden: true, attrs: { role: 'alert' } })),
    h('div', { class: 'form-actions' }, h('a', { href: '/profile', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('common.cancel')), submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    busy(submit, true);
    try {
      const fields = {
        nickname: nickname.value.trim(), bio: bio.value, skills: splitList(skills.value), interests: splitList(interests.value),
        status: status.value, contact_number: contact.value.trim(), is_private: isPrivate.checked,
      };
      // The API's limits (docs/api.md) checked here, all at once and before
      // anything is sent: with a picture, nothing is saved unless all is.
      const len = (x) => [...x].length;
      const invalid = {};
      if (!fields.nickname) invalid.nickname = [t('err.required')];
      else if (len(fields.nickname) > 20) invalid.nickname = [t('err.toolong')];
      if (len(fields.bio) > 500) invalid.bio = [t('err.toolong')];
      for (const k of ['skills', 'interests']) if (fields[k].length > 20 || fields[k].some((x) => len(x) > 40)) invalid[k] = [t('err.toolong')];
      if (len(fields.contact_number) > 20) invalid.contact_number = [t('err.toolong')];
      if (Object.keys(invalid).length) { showErrors(form, invalid); return; }
      let body = fields;
      if (picture.files[0]) {
        // One request with the picture and the fields: the server saves all
        // of it or none (a refused picture leaves the text unchanged too).
        body = new FormData();
        for (const [k, v] of Object.entries(fields)) {
          if (Array.isArray(v)) { for (const x of v) body.append(k, x); if (!v.length) body.append(k, ''); } else body.append(k, String(v));
        }
        body.append('profile_picture', picture.files[0]);
      }
      const saved = await api('/api/user/profile/', { method: 'PATCH', body });
      session.set(saved);
      toast(t('profile.saved'), 'success');
      navigate('/profile', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) showErrors(form, err.fields);
      else if (err instanceof ApiError && err.status === 413) showErrors(form, { profile_picture: [t('common.tooLarge')] });
      else toast(errorText(err), 'error');
    } finally { busy(submit, false); }
  });
  main.append(h('div', { class: 'narrow' }, form));
  nickname.focus();
}
