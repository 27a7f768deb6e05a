import { makeStyles, Table, TableBody, TableHeader, TableHeaderCell, TableRow } from '@fluentui/react-components';
import type { ReactNode } from 'react';

const useStyles = makeStyles({
  scroll: { overflowX: 'auto' },
  bounded: { overflowY: 'auto' },
  table: { tableLayout: 'auto' },
});

/**
 * A small, labelled table that scrolls sideways inside its card on narrow hosts (Outlook's side
 * pane, phones) instead of squeezing its columns: the one table frame every admin panel uses.
 */
export function DataTable({
  label,
  columns,
  minWidth,
  maxHeight,
  busy,
  children,
}: {
  /** The accessible name of the table. */
  label: string;
  columns: ReactNode[];
  /** Below this width the table scrolls rather than wraps. */
  minWidth?: string;
  /** Long lists scroll inside their card past this height instead of stretching the page. */
  maxHeight?: string;
  busy?: boolean;
  /** The body's rows. */
  children: ReactNode;
}) {
  const s = useStyles();
  return (
    <div className={maxHeight ? `${s.scroll} ${s.bounded}` : s.scroll} style={maxHeight ? { maxHeight } : undefined}>
      <Table className={s.table} style={minWidth ? { minWidth } : undefined} size="small" aria-label={label} aria-busy={busy}>
        <TableHeader>
          <TableRow>
            {columns.map((c, i) => (
              <TableHeaderCell key={i}>{c}</TableHeaderCell>
            ))}
          </TableRow>
        </TableHeader>
        <TableBody>{children}</TableBody>
      </Table>
    </div>
  );
}
