/**
 * What every page shares: the API client (the session cookie plus this tab's CSRF token), the element pages
 * draw into, and the signal that stops the current page's live stream and timers when another page starts.
 */
import { ArcalClient } from '@arcal/client';

export const CSRF_KEY = 'arcal.csrf';
export const client = new ArcalClient({ baseUrl: '', csrfToken: sessionStorage.getItem(CSRF_KEY) ?? undefined });
export const root = document.getElementById('app')!;

/** Aborts the live stream of the page being left. */
let leave = new AbortController();

/** Stops the page being left; the next page reads its own signal with pageSignal(). */
export function leavePage(): void {
  leave.abort();
  leave = new AbortController();
}

/** Aborted when the user leaves the page that read it. */
export const pageSignal = (): AbortSignal => leave.signal;

/** Draws the current route again (after an action changed what the page shows); the router listens. */
export const rerender = (): void => {
  window.dispatchEvent(new HashChangeEvent('hashchange'));
};
