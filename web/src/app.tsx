import { useEffect, useRef, useState } from "preact/hooks";
import { ErrorBoundary, LocationProvider, lazy, Route, Router, useLocation } from "preact-iso";
import { endedSessionEmail } from "./api/session-end.ts";
import { useSession } from "./api/use-session.ts";
import { HomePage } from "./pages/home.tsx";
import { LandingPage } from "./pages/landing.tsx";
import { NotFoundPage } from "./pages/not-found.tsx";
import { PlansPage } from "./pages/plans.tsx";
import { SearchPage } from "./pages/search.tsx";
import { SignInPage, SignUpPage } from "./pages/sign-in.tsx";
import { TitlePage } from "./pages/title.tsx";
import { ErrorNotice } from "./ui/error-notice.tsx";
import { Header } from "./ui/header.tsx";
import { RetryNotice } from "./ui/retry-notice.tsx";

// The player (and hls.js with it) and the admin pages load only when visited.
const WatchPage = lazy(() => import("./player/watch-page.tsx").then((module) => module.WatchPage));
const AdminPage = lazy(() => import("./admin/admin-page.tsx").then((module) => module.AdminPage));
const AdminVideoPage = lazy(() => import("./admin/admin-video-page.tsx").then((module) => module.AdminVideoPage));

/** Pages that need an account send a signed-out visitor to sign in, and back afterwards. */
function RequireSession({ children }: { children: preact.ComponentChildren }) {
  const session = useSession();
  const { url, route } = useLocation();
  useEffect(() => {
    if (!session) route(`/signin?next=${encodeURIComponent(url)}`, true);
  }, [session, url, route]);
  return session ? children : null;
}

function Page({ children, title }: { children: preact.ComponentChildren; title: string }) {
  useEffect(() => {
    document.title = `${title} · Reelstream`;
  }, [title]);
  return <>{children}</>;
}

/** Each route: its document title, and whether it needs a session. */
const guarded =
  (title: string, Component: preact.ComponentType<{ id?: string }>) =>
  ({ id }: { id?: string }) => (
    <Page title={title}>
      <RequireSession>
        <Component id={id} />
      </RequireSession>
    </Page>
  );
const open = (title: string, Component: preact.ComponentType) => () => (
  <Page title={title}>
    <Component />
  </Page>
);

/** `/`: the home rows for a viewer, the landing page (plans, a preview of titles) for a visitor. */
function HomeOrLanding() {
  const session = useSession();
  const { route } = useLocation();
  // A session that ended by itself goes to sign in (which says so, with the email), not to the landing page.
  const ended = !session && endedSessionEmail() !== null;
  useEffect(() => {
    if (ended) route("/signin?next=%2F", true);
  }, [ended, route]);
  if (ended) return null;
  return session ? <HomePage /> : <LandingPage />;
}

const routes = {
  home: open("Reelstream", HomeOrLanding),
  search: guarded("Search", SearchPage),
  title: guarded("Title", TitlePage as preact.ComponentType<{ id?: string }>),
  watch: guarded("Watch", WatchPage as preact.ComponentType<{ id?: string }>),
  admin: guarded("Admin", AdminPage),
  adminVideo: guarded("Manage title", AdminVideoPage as preact.ComponentType<{ id?: string }>),
  signIn: open("Sign in", SignInPage),
  signUp: open("Create your account", SignUpPage),
  plans: open("Plans", PlansPage),
  notFound: open("Not found", NotFoundPage),
};

/**
 * A new page starts at the top, and keyboard and screen-reader focus moves to it when the link
 * that led there is gone (a page that focuses a field of its own, like search, keeps that).
 */
function useNewPageFocus() {
  const lastPath = useRef(location.pathname);
  return (url: string) => {
    const path = url.split("?")[0] ?? url;
    if (path === lastPath.current) return;
    lastPath.current = path;
    scrollTo(0, 0);
    requestAnimationFrame(() => {
      if (!document.activeElement || document.activeElement === document.body)
        document.getElementById("main")?.focus({ preventScroll: true });
    });
  };
}

export function App() {
  const onRouteChange = useNewPageFocus();
  // A page that could not load (a chunk lost to the network) says so instead of staying blank.
  const [crash, setCrash] = useState<unknown>(null);
  return (
    <LocationProvider>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <RetryNotice />
        {crash ? <ErrorNotice error={crash} task="page" onRetry={() => location.reload()} /> : null}
        <ErrorBoundary onError={setCrash}>
          <Router
            onRouteChange={(url) => {
              setCrash(null);
              onRouteChange(url);
            }}
          >
            <Route path="/" component={routes.home} />
            <Route path="/search" component={routes.search} />
            <Route path="/title/:id" component={routes.title} />
            <Route path="/watch/:id" component={routes.watch} />
            <Route path="/admin" component={routes.admin} />
            <Route path="/admin/videos/:id" component={routes.adminVideo} />
            <Route path="/signin" component={routes.signIn} />
            <Route path="/signup" component={routes.signUp} />
            <Route path="/plans" component={routes.plans} />
            <Route default component={routes.notFound} />
          </Router>
        </ErrorBoundary>
      </main>
    </LocationProvider>
  );
}
