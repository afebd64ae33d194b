// Write and edit a post: title, category drop-down, comma-separated tags,
// Markdown content with a live (sanitised) preview.
import { h, splitList, toast, icon } from '../dom.js';
import { t } from '../i18n.js';
import { api, list, qs, ApiError } from '../api.js';
import { errorText } from '../errors.js';
import { render } from '../markdown.js';
import * as session from '../session.js';
import { field, clearErrors, showErrors, formError, busy } from '../form.js';
import { categories, categoryID, tagNames, writerOf, loginHref } from './common.js';

/**
 * ownPost finds one of the user's own posts in the list endpoint: reading
 * detail/<id>/ would count a view, and opening the edit form is not one.
 * Returns null when it is not the user's post.
 */
async function ownPost(id) {
  let next = `/api/post/posts/${qs({ writer: session.current().user, limit: 100 })}`;
  while (next) {
    const page = await list(next);
    const found = page.items.find((p) => String(p.id) === String(id));
    if (found) return found;
    next = page.next;
  }
  return null;
}

/** writePage renders /write and /posts/<id>/edit. */
export async function writePage({ main, params, navigate, isCurrent }) {
  const editID = params[0];
  if (!session.current()) { navigate(loginHref(), { replace: true }); return; }
  document.title = `${editID ? t('write.edit') : t('write.title')} · Cobra Space`;
  let cats = [];
  let post = null;
  try {
    [cats, post] = await Promise.all([categories(), editID ? ownPost(editID) : null]);
  } catch (err) {
    if (!isCurrent()) return;
    main.append(h('div', { class: 'empty-state' }, h('p', {}, err instanceof ApiError && err.status === 404 ? t('post.notfound') : t('common.error'))));
    return;
  }
  if (!isCurrent()) return;
  if (editID && (!post || !session.isMe({ id: writerOf(post).id, email: writerOf(post).email }))) {
    main.append(h('div', { class: 'empty-state' }, h('p', {}, t('write.notwriter'))));
    return;
  }

  const title = h('input', { type: 'text', maxLength: 200, required: true, value: post?.title || '', class: 'input-lg' });
  const category = h('select', { required: true, class: 'select' },
    h('option', { value: '' }, t('write.choose')),
    cats.map((c) => h('option', { value: c.id, selected: post && String(categoryID(post.category, cats)) === String(c.id) }, c.name)));
  const tags = h('input', { type: 'text', value: post ? tagNames(post).join(', ') : '', placeholder: 'go, grpc' });
  const content = h('textarea', { rows: 18, maxLength: 100000, value: post?.content || '', class: 'editor', spellcheck: false });
  const preview = h('div', { class: 'markdown preview', id: 'preview', attrs: { 'aria-live': 'off' } });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, editID ? t('write.save') : t('write.submit'));

  let pending = 0;
  const updatePreview = () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(() => {
      preview.replaceChildren(content.value.trim() ? render(content.value) : h('p', { class: 'muted' }, t('write.previewempty')));
    });
  };
  content.addEventListener('input', updatePreview);
  updatePreview();

  // On narrow screens editor and preview share one pane with tabs.
  const tabWrite = h('button', { type: 'button', class: 'tab active', attrs: { 'aria-pressed': 'true' } }, t('write.field.content'));
  const tabPreview = h('button', { type: 'button', class: 'tab', attrs: { 'aria-pressed': 'false' } }, t('write.preview'));
  const editorWrap = h('div', { class: 'editor-split', dataset: { tab: 'write' } },
    h('div', { class: 'editor-pane' }, field({ name: 'content', label: t('write.field.content'), control: content, hint: t('write.content.hint') })),
    h('div', { class: 'preview-pane' }, h('div', { class: 'preview-label' }, t('write.preview')), preview));
  const setTab = (tab) => {
    editorWrap.dataset.tab = tab;
    tabWrite.classList.toggle('active', tab === 'write'); tabWrite.setAttribute('aria-pressed', String(tab === 'write'));
    tabPreview.classList.toggle('active', tab === 'preview'); tabPreview.setAttribute('aria-pressed', String(tab === 'preview'));
  };
  // Images: uploaded to the media store (re-encoded there) and inserted as
  // Markdown at the cursor; remote images would be blocked by the CSP.
  const imageInput = h('input', { type: 'file', id: 'f-image', class: 'file-input', accept: 'image/png,image/jpeg,image/gif,image/webp' });
  const imageStatus = h('span', { class: 'field-hint', id: 'image-status', attrs: { role: 'status' } });
  const imageError = h('p', { class: 'field-error', id: 'f-image-error', hidden: true, attrs: { role: 'alert' } });
  const imageBar = h('div', { class: 'image-bar' },
    h('label', { for: 'f-image', class: 'btn btn-ghost btn-sm' }, icon('image'), t('write.image')), imageInput, imageStatus, imageError);
  const insertAtCursor = (text) => {
    const { selectionStart: a, selectionEnd: b, value } = content;
    const before = value.slice(0, a);
    const sep = before && !before.endsWith('\n') ? '\n' : '';
    content.value = `${before}${sep}${text}\n${value.slice(b)}`;
    const at = a + sep.length + text.length + 1;
    content.setSelectionRange(at, at);
    updatePreview();
  };
  imageInput.addEventListener('change', async () => {
    const file = imageInput.files[0];
    imageInput.value = '';
    imageError.hidden = true;
    if (!file) return;
    const refuse = (msg) => { imageError.replaceChildren(h('span', {}, msg)); imageError.hidden = false; imageStatus.textContent = ''; };
    if (file.size > 5 * 1024 * 1024) { refuse(t('common.tooLarge')); return; }
    try { (await createImageBitmap(file)).close(); } catch { refuse(t('err.image')); return; }
    imageStatus.textContent = t('write.imageuploading');
    const fd = new FormData();
    fd.append('image', file);
    try {
      const img = await api('/api/post/images/', { method: 'POST', body: fd });
      imageStatus.textContent = '';
      const alt = file.name.replace(/\.[^.]*$/, '').replace(/[[\]]/g, '') || 'image';
      insertAtCursor(`![${alt}](${img.url})`);
    } catch (err) {
      refuse(err instanceof ApiError && err.status === 400 ? (err.fields.image?.[0] || err.message) : errorText(err));
    }
  });
  tabWrite.addEventListener('click', () => setTab('write'));
  tabPreview.addEventListener('click', () => setTab('preview'));

  const form = h('form', { class: 'form write-form card', id: 'write-form', noValidate: true },
    h('h1', {}, editID ? t('write.edit') : t('write.title')),
    formError(),
    field({ name: 'title', label: t('write.field.title'), control: title }),
    h('div', { class: 'field-row' },
      field({ name: 'category', label: t('write.field.category'), control: category }),
      field({ name: 'tags', label: t('write.field.tags'), control: tags, hint: t('write.tags.hint') })),
    h('div', { class: 'tabs' }, tabWrite, tabPreview),
    imageBar,
    editorWrap,
    h('div', { class: 'form-actions' },
      h('a', { href: editID ? `/posts/${editID}` : '/', class: 'btn btn-ghost', attrs: { 'data-link': '' } }, t('write.cancel')), submit));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors(form);
    const body = { title: title.value.trim(), content: content.value, category: category.value ? Number(category.value) : null, tags: splitList(tags.value) };
    // Everything the form can check itself is reported at once, before the
    // server is asked (which would answer one rule at a time).
    const missing = {};
    if (!body.title) missing.title = [t('err.required')];
    if (!body.category) missing.category = [t('err.required')];
    if (!body.content.trim()) missing.content = [t('err.required')];
    if (body.tags.length > 10) missing.tags = [t('write.tags.max')];
    else if (body.tags.some((x) => [...x].length > 50)) missing.tags = [t('err.toolong')];
    if (Object.keys(missing).length) {
      if (missing.content) setTab('write');
      showErrors(form, missing);
      return;
    }
    busy(submit, true);
    try {
      const saved = editID
        ? await api(`/api/post/detail/${editID}/edit/`, { method: 'PATCH', body })
        : await api('/api/post/write/', { method: 'POST', body });
      navigate(`/posts/${saved?.id ?? editID}`, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) showErrors(form, err.fields);
      else toast(errorText(err), 'error');
    } finally { busy(submit, false); }
  });
  main.append(h('div', { class: 'narrow-wide' }, form));
  title.focus();
}
