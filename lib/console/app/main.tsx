import { render } from 'preact';
import { useHashPath } from './hooks';
import { CopyJobPage, CopyJobsPage } from './pages/copy-jobs';
import { MetricsPage } from './pages/metrics';
import { SnapshotPage, SnapshotsPage } from './pages/snapshots';
import { VolumePage } from './pages/volume';
import { VolumesPage } from './pages/volumes';

const SECTIONS = [
  { path: '/volumes', label: 'Volumes' },
  { path: '/snapshots', label: 'Snapshots' },
  { path: '/copy-jobs', label: 'Copy jobs' },
  { path: '/metrics', label: 'Metrics' },
] as const;

function Route({ path }: { path: string }) {
  const [, section, id] = path.split('/');
  if (section === 'volumes') return id ? <VolumePage key={id} volumeId={id} /> : <VolumesPage />;
  if (section === 'snapshots') return id ? <SnapshotPage key={id} snapshotId={id} /> : <SnapshotsPage />;
  if (section === 'copy-jobs') return id ? <CopyJobPage key={id} jobId={id} /> : <CopyJobsPage />;
  if (section === 'metrics') return <MetricsPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        Nothing at {path}. <a href="#/volumes">Volumes</a>
      </p>
    </section>
  );
}

function App() {
  const path = useHashPath();
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => (event.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Sleds</span>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map((section) => (
              <li key={section.path}>
                <a href={`#${section.path}`} aria-current={path.startsWith(section.path) ? 'page' : undefined}>
                  {section.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Route path={path} />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
