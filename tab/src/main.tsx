import { FluentProvider, makeStyles, Spinner, tokens } from '@fluentui/react-components';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { detectHost, onThemeChange, type HostInfo, type ThemeName } from './host';
import { THEMES } from './theme';
import './index.css';

// Cards sit on the slightly darker page background, as in Teams.
const useStyles = makeStyles({ root: { backgroundColor: tokens.colorNeutralBackground2, minHeight: '100vh' } });

function Root() {
  const s = useStyles();
  const [host, setHost] = useState<HostInfo>();
  const [theme, setTheme] = useState<ThemeName>('default');

  useEffect(() => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    void detectHost().then((h) => {
      if (cancelled) return;
      setHost(h);
      setTheme(h.theme);
      stop = onThemeChange(h.inHost, setTheme);
    });
    return () => {
      cancelled = true;
      stop?.();
    };
  }, []);

  useEffect(() => {
    // Native scrollbars and form controls follow the app theme, not the OS.
    document.documentElement.style.colorScheme = theme === 'default' ? 'light' : 'dark';
  }, [theme]);

  return (
    <FluentProvider theme={THEMES[theme]} className={s.root} data-theme={theme}>
      {host ? (
        <App host={host} />
      ) : (
        <div style={{ display: 'flex', justifyContent: 'center', padding: 48 }}>
          <Spinner label="Starting Connection Center…" />
        </div>
      )}
    </FluentProvider>
  );
}

const container = document.getElementById('root');
if (container)
  createRoot(container).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
