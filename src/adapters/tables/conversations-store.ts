import type { TableClient, TableEntityResult } from '@azure/data-tables';
import type { ConversationReference, ConversationStore } from '../../app/review-ports.js';
import { asDate, ensureTable, isTableError } from './table-clients.js';

/**
 * Table `conversations`: the Teams conversations the bot was installed in, the targets
 * `linkgate teams channels` lists and approval cards are posted to.
 *
 *   PartitionKey  `conversation`                        one small partition (a row per install)
 *   RowKey        encodeURIComponent(conversationId)
 *   removedAt     set when the bot was removed; the row stays so the listing can say so
 *
 * Teams conversation IDs look like `19:abc…@thread.tacv2`, `a:1Xyz…` or `19:meeting_…@thread.v2`
 * and a thread adds `;messageid=…`. Table keys may not contain `/`, `\`, `#`, `?` or control
 * characters; encodeURIComponent escapes those and `:`, `@`, `;` as well, so any ID the channel
 * sends becomes a valid key and decodes back unchanged
 * (https://learn.microsoft.com/rest/api/storageservices/understanding-the-table-service-data-model).
 *
 * Queries served: one conversation (point read) and all of them (one partition scan).
 */
const PARTITION = 'conversation';

export class TableConversationsStore implements ConversationStore {
  constructor(private readonly client: TableClient) {}

  /** Insert or overwrite: a reinstall after a removal clears `removedAt`. */
  async save(reference: ConversationReference): Promise<void> {
    await ensureTable(this.client);
    await this.client.upsertEntity(toEntity(reference), 'Replace');
  }

  /** Marks the row removed; a conversation never saved has nothing to mark. */
  async markRemoved(conversationId: string, at: Date): Promise<void> {
    await ensureTable(this.client);
    try {
      await this.client.updateEntity({ partitionKey: PARTITION, rowKey: rowKey(conversationId), removedAt: at }, 'Merge');
    } catch (error) {
      if (isTableError(error, 404)) return;
      throw error;
    }
  }

  async get(conversationId: string): Promise<ConversationReference | undefined> {
    await ensureTable(this.client);
    try {
      return fromEntity(await this.client.getEntity<Record<string, unknown>>(PARTITION, rowKey(conversationId)));
    } catch (error) {
      if (isTableError(error, 404)) return undefined;
      throw error;
    }
  }

  async list(): Promise<ConversationReference[]> {
    await ensureTable(this.client);
    const out: ConversationReference[] = [];
    const filter = `PartitionKey eq '${PARTITION}'`;
    for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      out.push(fromEntity(entity));
    }
    return out;
  }
}

function rowKey(conversationId: string): string {
  return encodeURIComponent(conversationId);
}

function toEntity(reference: ConversationReference) {
  const entity: Record<string, unknown> = { partitionKey: PARTITION, rowKey: rowKey(reference.conversationId) };
  for (const [key, value] of Object.entries(reference)) {
    if (value !== undefined) entity[key] = value;
  }
  return entity as { partitionKey: string; rowKey: string };
}

function fromEntity(entity: TableEntityResult<Record<string, unknown>>): ConversationReference {
  const text = (key: string): string | undefined => (typeof entity[key] === 'string' ? (entity[key] as string) : undefined);
  const removedAt = asDate(entity.removedAt);
  const optional = (key: 'name' | 'teamId' | 'teamName' | 'tenantId' | 'botId') => {
    const value = text(key);
    return value === undefined ? {} : { [key]: value };
  };
  return {
    conversationId: text('conversationId') ?? decodeURIComponent(entity.rowKey ?? ''),
    conversationType: text('conversationType') ?? 'unknown',
    serviceUrl: text('serviceUrl') ?? '',
    installedAt: asDate(entity.installedAt) ?? new Date(0),
    ...optional('name'),
    ...optional('teamId'),
    ...optional('teamName'),
    ...optional('tenantId'),
    ...optional('botId'),
    ...(removedAt ? { removedAt } : {}),
  };
}

