// The shapes of the API's answers that the console reads.

export interface KeyPart { field: string; value: string }
export interface Field { key: string; label: string; type: "PHONE" | "EMAIL" | "TEXT" | "ID"; builtIn: boolean }
export interface Rule { id: string; name: string; fields: string[]; enabled: boolean; requireVerified: boolean }
export interface RuleInput { name: string; fields: string[]; enabled: boolean; requireVerified: boolean }
export interface QuarantinedKey { rule: string; key: string; parts: KeyPart[]; size: number; since: string | null }
export interface Channel { kind: string; account: string }
export interface Attribute { field: string; value: string; source: string; verified: boolean; at: string | null }
export interface Conversation { id: string; clientId: string; startedAt: string; lastMessageAt: string; summary: string }
export interface LinkStep { from: string; to: string; rule: string | null; ruleName: string | null; values: KeyPart[]; manual: boolean }
export interface RulePreview { merges: number; splits: number; multiContacts: number; largest: number }

export interface Project {
  id: string;
  name: string;
  defaultRegion: string;
  settings: { defaultRegion: string; keyCap: number; valueCap: number; acceptUnverifiedWidgetValues: boolean };
  fields: Field[];
  rules: Rule[];
  quarantinedKeys: QuarantinedKey[];
  blockedValues: KeyPart[];
  resolution: { state: "IDLE" | "RUNNING"; progress: number };
}

export interface Client {
  id: string;
  displayName: string;
  channel: Channel;
  channelUserId: string;
  excluded: boolean;
  createdAt: string;
  lastSeenAt: string;
  attributes: Attribute[];
}

export interface MultiContact {
  id: string;
  size: number;
  createdAt: string | null;
  aliases: string[];
  clients: Client[];
  channels: { channel: Channel; channelUserId: string; client: { id: string; displayName: string }; lastActivityAt: string }[];
  conversations: Conversation[];
  links: LinkStep[];
}

/** MultiContact as the API answers it: members and conversations in pages. */
export type MultiContactPage = Omit<MultiContact, "clients" | "conversations"> & {
  clients: { nodes: Client[] };
  conversations: { nodes: Conversation[] };
};

export interface ForgottenCounts { clients: number; values: number; conversations: number; links: number }

export interface ChangeEvent {
  type: "CREATED" | "MERGED" | "SPLIT" | "UPDATED" | "DELETED" | "FORGOTTEN" | "QUARANTINED";
  multiContactId: string;
  previousIds: string[];
  newIds: string[];
  clientIds: string[];
  cause: { kind: string; action: string; field: string | null; value: string | null; rule: string | null };
  at: string;
  forgotten?: ForgottenCounts | null;
  quarantined?: { size: number; parts: { field: string; value: string }[] } | null;
}
