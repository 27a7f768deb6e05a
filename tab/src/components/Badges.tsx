import { Badge, type BadgeProps } from '@fluentui/react-components';
import { isLegacyKind, KIND_LABELS, STATE_LABELS, type ConnectionKind, type ConnectionState } from '../../../src/domain/connection';

const STATE_COLOURS: Record<ConnectionState, BadgeProps['color']> = {
  connected: 'success',
  'needs-reconnect': 'danger',
  'missing-permissions': 'warning',
  failing: 'danger',
  unknown: 'informative',
  disconnected: 'subtle',
};

function kindLabel(kind: ConnectionKind | null): string {
  return kind ? KIND_LABELS[kind] : 'Not connected';
}

export function StateBadge({ state }: { state: ConnectionState }) {
  return (
    <Badge appearance="tint" color={STATE_COLOURS[state]} shape="rounded" style={{ whiteSpace: 'nowrap' }}>
      {STATE_LABELS[state]}
    </Badge>
  );
}

export function KindBadge({ kind }: { kind: ConnectionKind | null }) {
  const colour: BadgeProps['color'] = kind === null ? 'informative' : isLegacyKind(kind) ? 'severe' : 'brand';
  return (
    <Badge appearance="outline" color={colour} shape="rounded">
      {kindLabel(kind)}
    </Badge>
  );
}
