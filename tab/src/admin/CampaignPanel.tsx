import {
  Badge,
  Button,
  Caption1,
  Input,
  Link,
  makeStyles,
  MessageBar,
  MessageBarBody,
  MessageBarTitle,
  Spinner,
  TableCell,
  TableRow,
  Text,
  tokens,
} from '@fluentui/react-components';
import { Open16Regular } from '@fluentui/react-icons';
import { useState } from 'react';
import type { CampaignResponse, CampaignView, FunnelCounts } from '../../../src/contract';
import type { Api } from '../api';
import { ErrorBar } from '../components/ErrorBar';
import { DataTable } from '../components/DataTable';
import { Section } from '../components/Section';
import { formatDateTime, plural } from '../format';
import { useResource } from '../useResource';

const useStyles = makeStyles({
  stack: { display: 'flex', flexDirection: 'column', rowGap: tokens.spacingVerticalM },
  funnel: { display: 'grid', gridTemplateColumns: 'repeat(auto-fit, minmax(120px, 1fr))', gap: tokens.spacingHorizontalS },
  stage: {
    display: 'flex',
    flexDirection: 'column',
    padding: tokens.spacingHorizontalS,
    borderRadius: tokens.borderRadiusMedium,
    backgroundColor: tokens.colorNeutralBackground3,
  },
  big: { fontSize: tokens.fontSizeHero700, lineHeight: tokens.lineHeightHero700, fontWeight: tokens.fontWeightSemibold },
  row: { display: 'flex', flexWrap: 'wrap', alignItems: 'center', columnGap: tokens.spacingHorizontalS, rowGap: tokens.spacingVerticalS },
  muted: { color: tokens.colorNeutralForeground3 },
});

const STAGES: Array<{ key: keyof FunnelCounts; label: string }> = [
  { key: 'targeted', label: 'Targeted' },
  { key: 'installed', label: 'Bot installed' },
  { key: 'nudged', label: 'Nudged' },
  { key: 'opened', label: 'Opened the tab' },
  { key: 'reconnected', label: 'Reconnected' },
];

const STATUS_TEXT: Record<CampaignView['status'], string> = { idle: 'Not started', running: 'Running', paused: 'Paused' };

/** The reconnect campaign: start, pause, resume or step it, and follow the funnel. */
export function CampaignPanel({ api, onChanged }: { api: Api; onChanged?: () => void }) {
  const s = useStyles();
  const [version, setVersion] = useState(0);
  const resource = useResource<CampaignResponse>(api, '/api/admin/campaign', version);
  const [busy, setBusy] = useState<string>();
  const [failure, setFailure] = useState<unknown>();
  const [domains, setDomains] = useState('');
  const campaign = resource.data?.campaign;

  const act = async (action: 'start' | 'pause' | 'resume' | 'step') => {
    setBusy(action);
    setFailure(undefined);
    try {
      const list = domains
        .split(/[\s,;]+/)
        .map((d) => d.trim().toLowerCase())
        .filter(Boolean);
      await api.post<CampaignResponse>('/api/admin/campaign', { action, ...(action === 'start' && list.length ? { domains: list } : {}) });
      setVersion((v) => v + 1);
      onChanged?.();
    } catch (err) {
      setFailure(err);
    } finally {
      setBusy(undefined);
    }
  };

  const button = (action: 'start' | 'pause' | 'resume' | 'step', label: string, appearance: 'primary' | 'secondary' = 'secondary') => (
    <Button appearance={appearance} disabled={!!busy} onClick={() => void act(action)} icon={busy === action ? <Spinner size="tiny" /> : undefined}>
      {label}
    </Button>
  );

  return (
    <Section
      title="Reconnect campaign"
      description={`Reminds everyone still on Exchange, or who has to reconnect, in Teams: the bot is installed for those who do not have it (when permitted), then one nudge, more as the deadlines come closer, never more than one in ${campaign?.minDaysBetween ?? 3} days, and nothing more once they have reconnected.`}
      actions={
        campaign ? (
          <Badge appearance="tint" color={campaign.status === 'running' ? 'success' : 'informative'}>
            {STATUS_TEXT[campaign.status]}
          </Badge>
        ) : undefined
      }
    >
      {resource.error && !resource.data ? <ErrorBar error={resource.error} onRetry={() => void resource.reload()} /> : null}
      {!resource.data && !resource.error ? <Spinner size="small" label="Loading the campaign…" labelPosition="after" /> : null}
      {failure ? <ErrorBar error={failure} title="The campaign did not change" /> : null}
      {campaign ? (
        <div className={s.stack}>
          {campaign.permission && !campaign.permission.granted ? (
            <MessageBar intent="warning" layout="multiline">
              <MessageBarBody>
                <MessageBarTitle>{campaign.permission.permission} is not granted</MessageBarTitle>
                {campaign.permission.without}{' '}
                <Link href={campaign.permission.adminConsentUrl} target="_blank" rel="noopener noreferrer">
                  Grant admin consent <Open16Regular aria-label="(opens in a new window)" />
                </Link>
              </MessageBarBody>
            </MessageBar>
          ) : null}
          <div className={s.row}>
            {campaign.status === 'idle' ? (
              <>
                <Input
                  aria-label="Only these mail domains (optional)"
                  placeholder="Only these domains (optional), e.g. contoso.com"
                  value={domains}
                  onChange={(_e, d) => setDomains(d.value)}
                />
                {button('start', 'Start campaign', 'primary')}
              </>
            ) : null}
            {campaign.status === 'running' ? (
              <>
                {button('step', 'Run next step now')}
                {button('pause', 'Pause')}
              </>
            ) : null}
            {campaign.status === 'paused' ? button('resume', 'Resume', 'primary') : null}
            {campaign.status !== 'idle' ? button('start', 'Start over') : null}
          </div>
          {campaign.startedAt ? (
            <Caption1 className={s.muted}>
              Started {formatDateTime(campaign.startedAt)}
              {campaign.domains?.length ? ` for ${campaign.domains.join(', ')}` : ' for every domain'}
              {campaign.lastStepAt ? `; last step ${formatDateTime(campaign.lastStepAt)}` : ''}.
            </Caption1>
          ) : null}
          <div className={s.funnel} role="list" aria-label="Campaign funnel">
            {STAGES.map((stage) => (
              <div key={stage.key} className={s.stage} role="listitem" aria-label={`${stage.label}: ${campaign.funnel[stage.key]}`}>
                <span className={s.big}>{campaign.funnel[stage.key]}</span>
                <Caption1>{stage.label}</Caption1>
              </div>
            ))}
          </div>
          {campaign.funnel.unreachable.map((u) => (
            <MessageBar key={u.reason} intent="warning" layout="multiline">
              <MessageBarBody>
                <MessageBarTitle>{plural(u.count, 'user')} cannot be reached</MessageBarTitle>
                {u.message} {u.remedy}
              </MessageBarBody>
            </MessageBar>
          ))}
          {campaign.funnel.perDay.length ? (
            <DataTable label="Campaign funnel per day" columns={['Day', ...STAGES.map((stage) => stage.label)]}>
              {campaign.funnel.perDay.map((d) => (
                <TableRow key={d.day}>
                  <TableCell>{d.day}</TableCell>
                  {STAGES.map((stage) => (
                    <TableCell key={stage.key}>{d[stage.key]}</TableCell>
                  ))}
                </TableRow>
              ))}
            </DataTable>
          ) : campaign.status === 'idle' ? (
            <Text>No campaign yet.</Text>
          ) : null}
        </div>
      ) : null}
    </Section>
  );
}
