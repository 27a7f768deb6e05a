import {
  Button,
  Caption1,
  Dropdown,
  Field,
  makeStyles,
  MessageBar,
  MessageBarBody,
  Option,
  SearchBox,
  Spinner,
  TableCell,
  TableRow,
  Text,
  tokens,
} from '@fluentui/react-components';
import { ArrowDownload20Regular, ArrowUpload20Regular } from '@fluentui/react-icons';
import { useCallback, useEffect, useRef, useState, type ChangeEvent } from 'react';
import type { ConnectionRow, ConnectionsResponse, ImportResponse } from '../../../src/contract';
import { CONNECTION_KINDS, CONNECTION_STATES, KIND_LABELS, STATE_LABELS, type ConnectionKind, type ConnectionState } from '../../../src/domain/connection';
import type { Api } from '../api';
import { ErrorBar } from '../components/ErrorBar';
import { DataTable } from '../components/DataTable';
import { Section } from '../components/Section';
import { formatDateTime, plural } from '../format';
import { StateBadge } from '../components/Badges';
import { HistoryButton, HistoryDialog } from './HistoryDialog';

const SEARCH_DELAY_MS = 300;

const useStyles = makeStyles({
  filters: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalM, rowGap: tokens.spacingVerticalS, alignItems: 'flex-end' },
  filter: { minWidth: '180px', flexGrow: 1, maxWidth: '280px' },
  dropdown: { minWidth: '0', width: '100%' },
  tools: { display: 'flex', flexWrap: 'wrap', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalS, alignItems: 'center' },
  user: { display: 'flex', flexDirection: 'column', minWidth: '180px', overflowWrap: 'anywhere' },
  nowrap: { whiteSpace: 'nowrap' },
  checked: { display: 'flex', alignItems: 'center', columnGap: tokens.spacingHorizontalXS, whiteSpace: 'nowrap' },
  problem: { display: 'flex', flexDirection: 'column', minWidth: '200px', maxWidth: '320px' },
  muted: { color: tokens.colorNeutralForeground3 },
  error: { color: tokens.colorPaletteRedForeground1 },
  hidden: { display: 'none' },
});

interface Filters {
  state: ConnectionState | '';
  kind: ConnectionKind | '';
  search: string;
}

function query(f: Filters, cursor?: string): string {
  const q = new URLSearchParams();
  if (f.state) q.set('state', f.state);
  if (f.kind) q.set('kind', f.kind);
  if (f.search.trim()) q.set('search', f.search.trim());
  if (cursor) q.set('cursor', cursor);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function UsersTable({ api, version, onImported }: { api: Api; version: number; onImported: () => void }) {
  const s = useStyles();
  const [filters, setFilters] = useState<Filters>({ state: '', kind: '', search: '' });
  const [search, setSearch] = useState('');
  const [rows, setRows] = useState<ConnectionRow[]>();
  const [next, setNext] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const [importing, setImporting] = useState(false);
  const [importError, setImportError] = useState<unknown>();
  const [imported, setImported] = useState<number>();
  const [exportError, setExportError] = useState<unknown>();
  const [historyOf, setHistoryOf] = useState<ConnectionRow>();
  const [historyOpened, setHistoryOpened] = useState(0);
  const fileInput = useRef<HTMLInputElement>(null);
  // Only the latest request may write: typing fast must not let an older answer win.
  const requestNo = useRef(0);

  useEffect(() => {
    const t = window.setTimeout(() => setFilters((f) => (f.search === search ? f : { ...f, search })), SEARCH_DELAY_MS);
    return () => window.clearTimeout(t);
  }, [search]);

  const load = useCallback(
    async (cursor?: string) => {
      const no = ++requestNo.current;
      setLoading(true);
      setError(undefined);
      try {
        const res = await api.get<ConnectionsResponse>(`/api/admin/connections${query(filters, cursor)}`);
        if (no !== requestNo.current) return;
        setRows((r) => (cursor ? [...(r ?? []), ...res.items] : res.items));
        setNext(res.nextCursor);
      } catch (e) {
        if (no === requestNo.current) setError(e);
      } finally {
        if (no === requestNo.current) setLoading(false);
      }
    },
    [api, filters],
  );

  useEffect(() => {
    void load();
  }, [load, version]);

  const csvPath = `/api/admin/connections.csv${query(filters)}`;

  const exportCsv = async () => {
    setExportError(undefined);
    try {
      await api.download(csvPath, 'connections.csv');
    } catch (e) {
      setExportError(e);
    }
  };

  const importCsv = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    setImporting(true);
    setImportError(undefined);
    setImported(undefined);
    try {
      const text = await file.text();
      const res = await api.request<ImportResponse>('POST', '/api/admin/connections/import', { raw: { data: text, contentType: 'text/csv' } });
      setImported(res.imported);
      onImported();
    } catch (err) {
      setImportError(err);
    } finally {
      setImporting(false);
    }
  };

  return (
    <Section
      title="Users"
      description="Every user's connection. Import legacy connections from a CSV with the header upn,kind[,lastSyncAt]."
      actions={
        <div className={s.tools}>
          {api.mode === 'session' ? (
            <Button as="a" href={csvPath} download="connections.csv" icon={<ArrowDownload20Regular />}>
              Export CSV
            </Button>
          ) : (
            <Button icon={<ArrowDownload20Regular />} onClick={() => void exportCsv()}>
              Export CSV
            </Button>
          )}
          <Button icon={importing ? <Spinner size="tiny" /> : <ArrowUpload20Regular />} disabled={importing} onClick={() => fileInput.current?.click()}>
            Import CSV…
          </Button>
          <input ref={fileInput} className={s.hidden} type="file" accept=".csv,text/csv" aria-label="CSV file to import" onChange={(e) => void importCsv(e)} />
        </div>
      }
    >
      {exportError ? <ErrorBar error={exportError} /> : null}
      {importError ? <ErrorBar error={importError} title="The import failed; nothing was stored." /> : null}
      {imported !== undefined ? (
        <MessageBar intent="success" role="status">
          <MessageBarBody>Imported {plural(imported, 'connection')}.</MessageBarBody>
        </MessageBar>
      ) : null}
      <div className={s.filters} role="search" aria-label="Filter users">
        <Field className={s.filter} label="Search">
          <SearchBox value={search} onChange={(_, d) => setSearch(d.value)} placeholder="Name or user principal name" />
        </Field>
        <Field className={s.filter} label="State">
          <Dropdown
            className={s.dropdown}
            value={filters.state ? STATE_LABELS[filters.state] : 'All states'}
            selectedOptions={[filters.state]}
            onOptionSelect={(_, d) => setFilters((f) => ({ ...f, state: (d.optionValue ?? '') as Filters['state'] }))}
          >
            <Option value="">All states</Option>
            {CONNECTION_STATES.map((st) => (
              <Option key={st} value={st}>
                {STATE_LABELS[st]}
              </Option>
            ))}
          </Dropdown>
        </Field>
        <Field className={s.filter} label="Kind">
          <Dropdown
            className={s.dropdown}
            value={filters.kind ? KIND_LABELS[filters.kind] : 'All kinds'}
            selectedOptions={[filters.kind]}
            onOptionSelect={(_, d) => setFilters((f) => ({ ...f, kind: (d.optionValue ?? '') as Filters['kind'] }))}
          >
            <Option value="">All kinds</Option>
            {CONNECTION_KINDS.map((k) => (
              <Option key={k} value={k}>
                {KIND_LABELS[k]}
              </Option>
            ))}
          </Dropdown>
        </Field>
      </div>
      {error ? <ErrorBar error={error} onRetry={() => void load()} /> : null}
      {rows === undefined && loading ? <Spinner size="small" label="Loading users…" labelPosition="after" /> : null}
      {rows && rows.length === 0 ? <Text>No users match these filters.</Text> : null}
      {rows && rows.length > 0 ? (
        <DataTable label="Users" columns={['User', 'Connection', 'State', 'Last checked', 'Last sync', 'Problem']} minWidth="760px" busy={loading}>
          {rows.map((r) => (
            <TableRow key={`${r.upn}|${r.kind}`}>
              <TableCell>
                <span className={s.user}>
                  <Text>{r.displayName ?? r.upn}</Text>
                  {r.displayName ? <Caption1 className={s.muted}>{r.upn}</Caption1> : null}
                </span>
              </TableCell>
              <TableCell>{KIND_LABELS[r.kind] ?? r.kind}</TableCell>
              <TableCell>
                <StateBadge state={r.state} />
              </TableCell>
              <TableCell>
                <span className={s.checked}>
                  {formatDateTime(r.lastCheckedAt)}
                  <HistoryButton
                    upn={r.upn}
                    onOpen={() => {
                      setHistoryOf(r);
                      setHistoryOpened((n) => n + 1);
                    }}
                  />
                </span>
              </TableCell>
              <TableCell className={s.nowrap}>{formatDateTime(r.lastSyncAt)}</TableCell>
              <TableCell>
                {r.error ? (
                  <span className={s.problem}>
                    <Text className={s.error}>{r.error.message}</Text>
                    {r.error.remedy ? <Caption1 className={s.muted}>{r.error.remedy}</Caption1> : null}
                  </span>
                ) : (
                  <span className={s.muted}>—</span>
                )}
              </TableCell>
            </TableRow>
          ))}
        </DataTable>
      ) : null}
      {next ? (
        <div>
          <Button disabled={loading} icon={loading ? <Spinner size="tiny" /> : undefined} onClick={() => void load(next)}>
            Load more
          </Button>
        </div>
      ) : null}
      {rows && rows.length > 0 && !next ? <Caption1 className={s.muted}>{plural(rows.length, 'user')} shown.</Caption1> : null}
      <HistoryDialog api={api} user={historyOf} opened={historyOpened} onClose={() => setHistoryOf(undefined)} />
    </Section>
  );
}
