import {
  Button,
  Caption1,
  Dialog,
  DialogActions,
  DialogBody,
  DialogContent,
  DialogSurface,
  DialogTitle,
  makeStyles,
  Spinner,
  TableCell,
  TableRow,
  Text,
  tokens,
} from '@fluentui/react-components';
import { History20Regular } from '@fluentui/react-icons';
import type { ChangeSeenBy, ConnectionHistoryResponse } from '../../../src/contract';
import { KIND_LABELS } from '../../../src/domain/connection';
import type { Api } from '../api';
import { StateBadge } from '../components/Badges';
import { DataTable } from '../components/DataTable';
import { ErrorBar } from '../components/ErrorBar';
import { StateChangeCells } from '../components/StateChangeCells';
import { formatDateTime } from '../format';
import { useResource } from '../useResource';

const SEEN_BY: Record<ChangeSeenBy, string> = {
  check: 'Health check',
  user: 'The user',
  system: 'Connection Center',
};

const useStyles = makeStyles({
  surface: { maxWidth: 'min(880px, calc(100vw - 32px))' },
  content: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalS },
  muted: { color: tokens.colorNeutralForeground3 },
  nowrap: { whiteSpace: 'nowrap' },
  now: { display: 'flex', flexWrap: 'wrap', alignItems: 'center', columnGap: tokens.spacingHorizontalS },
});

/** The button that opens a user's history, wherever the user is listed. */
export function HistoryButton({ upn, onOpen }: { upn: string; onOpen: () => void }) {
  return (
    <Button appearance="subtle" size="small" icon={<History20Regular />} aria-label={`History of ${upn}`} title="History of state changes" onClick={onOpen} />
  );
}

/** One user's state changes, newest first: as health checks found them, as their own Test, reconnect or disconnect made them, or as the product did. */
export function HistoryDialog({
  api,
  user,
  opened,
  onClose,
}: {
  api: Api;
  user: { upn: string; displayName?: string } | undefined;
  /** Counts the openings: each one asks again, since a check may have run meanwhile. */
  opened: number;
  onClose: () => void;
}) {
  const s = useStyles();
  const path = user ? `/api/admin/connections/history?upn=${encodeURIComponent(user.upn)}` : null;
  const { data: history, error, reload } = useResource<ConnectionHistoryResponse>(api, path, opened);

  // The answer for the user asked about, not one still showing from the dialog opened before.
  const shown = history?.upn === user?.upn.toLowerCase() ? history : undefined;
  return (
    <Dialog open={user !== undefined} onOpenChange={(_, data) => (data.open ? undefined : onClose())}>
      <DialogSurface className={s.surface} aria-describedby={undefined}>
        <DialogBody>
          <DialogTitle>History of {user?.displayName ?? user?.upn}</DialogTitle>
          <DialogContent className={s.content}>
            {shown?.connections.map((c) => (
              <div key={c.kind} className={s.now}>
                <Text>{KIND_LABELS[c.kind] ?? c.kind} now:</Text>
                <StateBadge state={c.state} />
                <Caption1 className={s.muted}>last checked {formatDateTime(c.lastCheckedAt)}</Caption1>
              </div>
            ))}
            {shown && shown.connections.length === 0 ? <Text>No connection now: they have all been removed.</Text> : null}
            <Caption1 className={s.muted}>
              Every change of state, newest first: found by a health check, made by the user (testing, reconnecting, disconnecting), or by Connection Center
              when the address passed from someone else.
            </Caption1>
            {error ? <ErrorBar error={error} onRetry={() => void reload()} /> : null}
            {!shown && !error ? <Spinner size="small" label="Loading the history…" labelPosition="after" /> : null}
            {shown && shown.changes.length === 0 ? <Text>No change of state seen yet.</Text> : null}
            {shown && shown.changes.length > 0 ? (
              <DataTable label={`State changes of ${shown.upn}`} columns={['When', 'Connection', 'Was', 'Now', 'Why', 'By']} minWidth="720px" maxHeight="420px">
                {shown.changes.map((c, i) => (
                  <TableRow key={`${c.at}-${c.kind}-${i}`}>
                    <TableCell className={s.nowrap}>{formatDateTime(c.at)}</TableCell>
                    <TableCell>{KIND_LABELS[c.kind] ?? c.kind}</TableCell>
                    <StateChangeCells change={c} />
                    <TableCell className={s.nowrap}>{SEEN_BY[c.seenBy]}</TableCell>
                  </TableRow>
                ))}
              </DataTable>
            ) : null}
          </DialogContent>
          <DialogActions>
            <Button appearance="primary" onClick={onClose}>
              Close
            </Button>
          </DialogActions>
        </DialogBody>
      </DialogSurface>
    </Dialog>
  );
}
