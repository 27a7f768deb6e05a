import { TableCell } from '@fluentui/react-components';
import type { ChangeSeenBy } from '../../../src/contract';
import type { ConnectionState } from '../../../src/domain/connection';
import { changeReason } from '../format';
import { StateBadge } from './Badges';

/**
 * A change of state as three table cells, Was, Now and Why: read the same way in a run's changes
 * and in a user's history.
 */
export function StateChangeCells({ change }: { change: { from: ConnectionState; to: ConnectionState; code?: string; seenBy?: ChangeSeenBy } }) {
  return (
    <>
      <TableCell>
        <StateBadge state={change.from} />
      </TableCell>
      <TableCell>
        <StateBadge state={change.to} />
      </TableCell>
      <TableCell>{changeReason(change.code, change.to, change.seenBy)}</TableCell>
    </>
  );
}
