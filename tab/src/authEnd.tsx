/**
 * /auth/end: the last page of the consent round trip. Inside the Teams auth popup it hands the
 * outcome to the tab (notifySuccess / notifyFailure with the error code) and Teams closes it;
 * in a plain window it shows the outcome and a link back.
 */
import {
  Body1,
  Button,
  Caption1,
  Card,
  FluentProvider,
  makeStyles,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  Title3,
  tokens,
} from '@fluentui/react-components';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ERROR_CATALOGUE, isErrorCode, remedyWith } from '../../src/domain/errors';
import { browserTheme, initializeHost, notifyAuthFailure, notifyAuthSuccess } from './host';
import { THEMES } from './theme';
import './index.css';

const params = new URLSearchParams(window.location.search);
const success = params.get('status') === 'success';
const rawCode = params.get('code') ?? '';
const code = isErrorCode(rawCode) ? rawCode : 'INTERNAL';
// The general remedy only: a link from this page's address could point anywhere. The tab shows the
// tenant's admin-consent link from the server's answer.
const remedy = remedyWith(code);

const useStyles = makeStyles({
  card: {
    maxWidth: '480px',
    margin: `${tokens.spacingVerticalXXXL} auto`,
    padding: tokens.spacingHorizontalXL,
    display: 'flex',
    flexDirection: 'column',
    rowGap: tokens.spacingVerticalM,
  },
});

function AuthEnd() {
  const s = useStyles();
  const [phase, setPhase] = useState<'checking' | 'notified' | 'plain'>('checking');

  useEffect(() => {
    void initializeHost().then((inHost) => {
      if (!inHost) return setPhase('plain');
      if (success) notifyAuthSuccess();
      else notifyAuthFailure(code);
      setPhase('notified');
    });
  }, []);

  const entry = ERROR_CATALOGUE[code];
  return (
    <Card className={s.card} role="main">
      <Title3 as="h1" style={{ margin: 0 }}>
        Connection Center
      </Title3>
      {phase === 'checking' ? <Spinner label="Finishing sign-in…" /> : null}
      {phase !== 'checking' && success ? (
        <MessageBar intent="success" layout="multiline">
          <MessageBarBody>
            <MessageBarTitle>Office 365 is connected.</MessageBarTitle>
            {phase === 'notified' ? 'You can close this window.' : null}
          </MessageBarBody>
        </MessageBar>
      ) : null}
      {phase !== 'checking' && !success ? (
        <MessageBar intent="error" layout="multiline" data-code={code}>
          <MessageBarBody>
            <MessageBarTitle>{entry.message}</MessageBarTitle>
            {remedy ? <div>{remedy}</div> : null}
            <Caption1>Code: {code}</Caption1>
          </MessageBarBody>
        </MessageBar>
      ) : null}
      {phase === 'plain' ? (
        <Body1>
          <Button as="a" appearance="primary" href="/tab/">
            Back to Connection Center
          </Button>
        </Body1>
      ) : null}
    </Card>
  );
}

const container = document.getElementById('root');
if (container)
  createRoot(container).render(
    <StrictMode>
      <FluentProvider theme={THEMES[browserTheme()]} style={{ minHeight: '100vh' }}>
        <AuthEnd />
      </FluentProvider>
    </StrictMode>,
  );
