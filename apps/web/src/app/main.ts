/**
 * The arcal dashboard (served by the API at /ui): the router. Hash routes: #/ list, #/new submit an experiment,
 * #/e/<id> one experiment, #/compare/<id>,<id>… several, #/studies the studies, #/s/<id> one study; one file
 * per page in pages/, signing in and out in session.ts.
 */
import { leavePage } from './context.ts';
import { comparePage } from './pages/compare.ts';
import { experimentPage } from './pages/experiment.ts';
import { experimentsPage } from './pages/experiments.ts';
import { newExperimentPage } from './pages/new-experiment.ts';
import { studiesPage } from './pages/studies.ts';
import { studyPage } from './pages/study.ts';
import { showError, signOutButton } from './session.ts';

function route(): void {
  leavePage();
  const hash = location.hash.replace(/^#/, '') || '/';
  const m = /^\/e\/([\w-]+)$/.exec(hash);
  const c = /^\/compare\/([\w,-]+)$/.exec(hash);
  const st = /^\/s\/([\w-]+)$/.exec(hash);
  const page = m
    ? experimentPage(m[1]!)
    : c
      ? comparePage(c[1]!.split(',').filter(Boolean))
      : st
        ? studyPage(st[1]!)
        : hash === '/studies'
          ? studiesPage()
          : hash === '/new'
            ? newExperimentPage()
            : experimentsPage();
  const studies = Boolean(st) || hash === '/studies';
  const submitting = hash === '/new';
  document.getElementById('nav-studies')?.classList.toggle('current', studies);
  document.getElementById('nav-new')?.classList.toggle('current', submitting);
  document.getElementById('nav-experiments')?.classList.toggle('current', !studies && !submitting);
  // A page that loaded was read with a live session: offer to end it.
  page.then(() => {
    signOutButton.hidden = false;
  }, showError);
}

window.addEventListener('hashchange', route);
route();
