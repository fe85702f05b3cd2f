/**
 * Signing in and out. Sign-in trades an API key for the HttpOnly session cookie: the key lives only in the
 * form's handler; the CSRF token for writes stays in sessionStorage (this tab only). Sign-out deletes the
 * session on the server and forgets the token. An UNAUTHORIZED answer anywhere brings the sign-in form back.
 */
import { isApiError } from '@arcal/client';
import { CSRF_KEY, client, leavePage, rerender, root } from './context.ts';
import { clear, h } from './dom.ts';

export const signOutButton = document.getElementById('signout') as HTMLButtonElement;

signOutButton.addEventListener('click', async () => {
  leavePage();
  try {
    await client.deleteSession();
  } catch (e) {
    if (!(isApiError(e) && e.status === 401)) {
      showError(e);
      return;
    }
  }
  sessionStorage.removeItem(CSRF_KEY);
  client.setCsrfToken(undefined);
  document.getElementById('project')!.textContent = '';
  signInPage('Signed out. Sign in again with an API key.');
});

/** Shows what went wrong in place of the page; an expired or missing session asks for a key instead. */
export function showError(e: unknown): void {
  if (isApiError(e) && e.code === 'UNAUTHORIZED') {
    signInPage();
    return;
  }
  if ((e as Error)?.name === 'AbortError') return;
  clear(root);
  root.append(
    h('div', { class: 'error', role: 'alert' }, isApiError(e) ? e.describe() : String((e as Error)?.message ?? e)),
    h('p', {}, h('a', { href: '#/' }, 'back to the list')),
  );
}

export function signInPage(message?: string): void {
  clear(root);
  signOutButton.hidden = true;
  const input = h('input', {
    type: 'password',
    name: 'key',
    id: 'api-key',
    autocomplete: 'off',
    required: true,
    placeholder: 'API key',
  });
  const status = h(
    'p',
    { class: 'muted', id: 'signin-status' },
    message ?? 'Sign in with an API key (arcal keys create --project <name>).',
  );
  const form = h(
    'form',
    { id: 'signin', class: 'card' },
    h('h2', {}, 'Sign in'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    status,
  );
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    input.value = '';
    try {
      const s = await client.createSession(key);
      sessionStorage.setItem(CSRF_KEY, s.csrfToken);
      document.getElementById('project')!.textContent = `project ${s.project}`;
      if (location.hash === '' || location.hash === '#/') rerender();
      else location.hash = '#/';
    } catch (e) {
      status.textContent = isApiError(e) ? e.describe() : String(e);
      status.className = 'error';
    }
  });
  root.append(form);
  input.focus();
}
