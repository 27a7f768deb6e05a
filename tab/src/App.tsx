import {
  Badge,
  Button,
  Caption1,
  Card,
  Body1,
  Link,
  makeStyles,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  Tab,
  TabList,
  Text,
  Title2,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { PersonCircle20Regular } from '@fluentui/react-icons';
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import type { MeResponse } from '../../src/contract';
import { Api, ApiError, catalogueError } from './api';
import { ErrorBar } from './components/ErrorBar';
import { getSsoToken, type HostInfo } from './host';
import { CAMPAIGN_LINK_MARK } from '../../src/domain/reach';
import { UserView, type Notice } from './user/UserView';

// Most users never see the admin view: load it only for admins.
const AdminView = lazy(() => import('./admin/AdminView'));

const SIGN_IN_URL = '/auth/signin?returnTo=/tab/';

const useStyles = makeStyles({
  page: {
    maxWidth: '1100px',
    marginLeft: 'auto',
    marginRight: 'auto',
    padding: `${tokens.spacingVerticalL} ${tokens.spacingHorizontalL}`,
    boxSizing: 'border-box',
    '@media (max-width: 480px)': { padding: `${tokens.spacingVerticalM} ${tokens.spacingHorizontalS}` },
  },
  header: {
    display: 'flex',
    flexWrap: 'wrap',
    alignItems: 'center',
    justifyContent: 'space-between',
    columnGap: tokens.spacingHorizontalL,
    rowGap: tokens.spacingVerticalS,
    marginBottom: tokens.spacingVerticalM,
  },
  who: { display: 'flex', flexWrap: 'wrap', alignItems: 'center', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalXS, minWidth: 0 },
  whoText: { display: 'flex', flexDirection: 'column', minWidth: 0, overflowWrap: 'anywhere' },
  stack: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalL },
  centre: { display: 'flex', justifyContent: 'center', padding: tokens.spacingVerticalXXXL },
  signin: {
    maxWidth: '420px',
    marginLeft: 'auto',
    marginRight: 'auto',
    padding: tokens.spacingHorizontalXL,
    display: 'flex',
    flexDirection: 'column',
    rowGap: tokens.spacingVerticalM,
  },
  muted: { color: tokens.colorNeutralForeground3 },
  title: { margin: 0 },
  tabs: { marginBottom: tokens.spacingVerticalM },
});

// Read once at start-up, before anything renders, then removed from the address bar.
const initialOutcome = takeReturnOutcome();

type Boot = { phase: 'loading' } | { phase: 'signin' } | { phase: 'error'; error: unknown } | { phase: 'ready'; me: MeResponse };

interface ReturnOutcome {
  connect?: Notice | ApiError;
  signIn?: ApiError;
}

/**
 * Reads and removes `?connect=success|failure&code=…` and `?signin=failure&code=…`, left by the
 * browser round trips through the server, so a reload does not show them again.
 */
function takeReturnOutcome(): ReturnOutcome {
  const url = new URL(window.location.href);
  const connect = url.searchParams.get('connect');
  const signIn = url.searchParams.get('signin');
  if (!connect && !signIn) return {};
  const code = url.searchParams.get('code') ?? 'INTERNAL';
  // An adminConsentUrl in the address bar is dropped unread: the link shown comes from the server.
  for (const p of ['connect', 'signin', 'code', 'adminConsentUrl']) url.searchParams.delete(p);
  window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
  const out: ReturnOutcome = {};
  if (connect === 'success') out.connect = { intent: 'success', title: 'Office 365 is connected.', body: 'Check below which features are now available.' };
  else if (connect) out.connect = catalogueError(code);
  if (signIn && signIn !== 'success') out.signIn = catalogueError(code);
  return out;
}

function LocalPreviewBanner() {
  return (
    <MessageBar intent="info" layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>Local preview — not running inside Teams</MessageBarTitle>
        You are using Connection Center in a web browser. Open it in Teams, Outlook or the Microsoft 365 app to sign in automatically.
      </MessageBarBody>
    </MessageBar>
  );
}

function SignIn() {
  const s = useStyles();
  return (
    <Card className={s.signin} role="region" aria-labelledby="signin-title">
      <Title3 as="h2" id="signin-title" className={s.title}>
        Sign in
      </Title3>
      <Body1>Sign in with your work account to see your mailbox connection and move it to Office 365.</Body1>
      <Button as="a" appearance="primary" href={SIGN_IN_URL}>
        Sign in with your work account
      </Button>
    </Card>
  );
}

export function App({ host }: { host: HostInfo }) {
  const s = useStyles();
  const api = useMemo(() => new Api(host.inHost ? { kind: 'sso', getToken: getSsoToken } : { kind: 'session' }), [host.inHost]);
  const [boot, setBoot] = useState<Boot>({ phase: 'loading' });
  const [view, setView] = useState<'me' | 'org'>(() => (window.location.hash === '#organisation' ? 'org' : 'me'));
  const [signOutError, setSignOutError] = useState<unknown>();

  const loadMe = useCallback(async () => {
    setBoot({ phase: 'loading' });
    try {
      const me = await api.get<MeResponse>('/api/me');
      api.setCsrfToken(me.csrfToken);
      setBoot({ phase: 'ready', me });
      // Opened from a reconnect campaign's nudge: the campaign's funnel counts it.
      if (host.subPageId === CAMPAIGN_LINK_MARK || new URLSearchParams(window.location.search).get('from') === CAMPAIGN_LINK_MARK) {
        void api.post('/api/me/campaign/opened').catch(() => undefined);
      }
    } catch (e) {
      if (!host.inHost && e instanceof ApiError && e.status === 401) setBoot({ phase: 'signin' });
      else setBoot({ phase: 'error', error: e });
    }
  }, [api, host.inHost, host.subPageId]);

  useEffect(() => {
    void loadMe();
  }, [loadMe]);

  const selectView = (v: 'me' | 'org') => {
    setView(v);
    window.history.replaceState(window.history.state, '', v === 'org' ? '#organisation' : window.location.pathname + window.location.search);
  };

  const signOut = async () => {
    setSignOutError(undefined);
    try {
      await api.post('/auth/signout');
      window.location.reload();
    } catch (e) {
      setSignOutError(e);
    }
  };

  const me = boot.phase === 'ready' ? boot.me : undefined;

  return (
    <div className={s.page}>
      <header className={s.header}>
        <Title2 as="h1" className={s.title}>
          Connection Center
        </Title2>
        {me ? (
          <div className={s.who}>
            <PersonCircle20Regular aria-hidden />
            <span className={s.whoText}>
              <Text weight="semibold">{me.user.name ?? me.user.upn}</Text>
              {me.user.name ? <Caption1 className={s.muted}>{me.user.upn}</Caption1> : null}
            </span>
            {me.isAdmin ? (
              <Badge appearance="tint" color="brand">
                Admin
              </Badge>
            ) : null}
            {me.sandbox ? (
              <Badge appearance="tint" color="warning">
                Sandbox tenant
              </Badge>
            ) : null}
            {me.auth === 'session' ? (
              <Link as="button" onClick={() => void signOut()}>
                Sign out
              </Link>
            ) : null}
          </div>
        ) : null}
      </header>

      <div className={s.stack}>
        {host.inHost ? null : <LocalPreviewBanner />}
        {signOutError ? <ErrorBar error={signOutError} /> : null}
        {boot.phase === 'loading' ? (
          <div className={s.centre}>
            <Spinner label="Loading Connection Center…" />
          </div>
        ) : null}
        {boot.phase === 'signin' && initialOutcome.signIn ? <ErrorBar error={initialOutcome.signIn} title="Sign-in did not complete." /> : null}
        {boot.phase === 'signin' ? <SignIn /> : null}
        {boot.phase === 'error' ? <ErrorBar error={boot.error} onRetry={() => void loadMe()} /> : null}
        {me ? (
          <main>
            {me.isAdmin ? (
              <TabList className={s.tabs} selectedValue={view} onTabSelect={(_, d) => selectView(d.value as 'me' | 'org')} aria-label="Views">
                <Tab value="me" id="tab-me">
                  My connection
                </Tab>
                <Tab value="org" id="tab-org">
                  Organisation
                </Tab>
              </TabList>
            ) : null}
            {/* Keep the user view mounted so switching tabs does not refetch or drop a notice. */}
            <div hidden={me.isAdmin && view === 'org'} {...(me.isAdmin ? { role: 'tabpanel', 'aria-labelledby': 'tab-me' } : {})}>
              <UserView api={api} me={me} inHost={host.inHost} initialNotice={initialOutcome.connect} />
            </div>
            {me.isAdmin && view === 'org' ? (
              <div role="tabpanel" aria-labelledby="tab-org">
                <Suspense fallback={<Spinner label="Loading the organisation view…" />}>
                  <AdminView api={api} />
                </Suspense>
              </div>
            ) : null}
          </main>
        ) : null}
      </div>
    </div>
  );
}
