import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../functions/db/events.js';
import { orderedGroups } from '../../functions/feed/dispatcher.js';
import { EVENT_TYPES } from '../../functions/lib/event-types.js';

let seq = 0;
const event = (fields: Partial<StoredEvent>): StoredEvent => ({ seq: ++seq, jti: `jti-${seq}`, time: new Date(0).toISOString(), type: EVENT_TYPES.certificateRevoked, data: {}, ...fields });
const imported = (caId: string, codes: string[]) => event({ type: EVENT_TYPES.certificatesImported, caId, data: { caId, enterprises: codes.map((creditCode) => ({ creditCode })) } });
const seqs = (groups: StoredEvent[][]) => groups.map((group) => group.map((e) => e.seq));

describe('push ordering groups', () => {
  it('keeps enterprises apart', () => {
    seq = 0;
    const groups = orderedGroups([event({ creditCode: 'A' }), event({ creditCode: 'B' }), event({ creditCode: 'A' })]);
    expect(seqs(groups)).toEqual([[1, 3], [2]]);
  });

  it('orders an import with each listed enterprise', () => {
    seq = 0;
    const events = [event({ creditCode: 'A' }), event({ creditCode: 'B' }), imported('ca-1', ['A', 'B']), event({ creditCode: 'B' }), event({ creditCode: 'C' })];
    expect(seqs(orderedGroups(events))).toEqual([[1, 2, 3, 4], [5]]);
  });

  it('merges groups in feed order', () => {
    seq = 0;
    const events = [event({ creditCode: 'A' }), event({ creditCode: 'B' }), event({ creditCode: 'A' }), imported('ca-1', ['B', 'A'])];
    expect(seqs(orderedGroups(events))).toEqual([[1, 2, 3, 4]]);
  });

  it('orders imports of one CA with its CA events', () => {
    seq = 0;
    const events = [imported('ca-1', ['A']), event({ type: EVENT_TYPES.caStatusChanged, caId: 'ca-1' }), imported('ca-1', ['B']), imported('ca-2', ['C'])];
    expect(seqs(orderedGroups(events))).toEqual([[1, 2, 3], [4]]);
  });
});
