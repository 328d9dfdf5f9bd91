/**
 * The command table: every prismctl command, one module per pattern. Usage text and shell completion are
 * generated from it; a new pattern's commands are a file in this folder and a line here.
 */
import type { Command } from "../command";
import { CDC_COMMANDS } from "./cdc";
import { COMPLETION_COMMANDS } from "./completion";
import { KV_COMMANDS } from "./kv";
import { KV_FILE_COMMANDS } from "./kv_files";
import { MULTICAST_COMMANDS } from "./multicast";
import { PUBSUB_COMMANDS } from "./pubsub";
import { QUEUE_COMMANDS } from "./queue";
import { SESSION_COMMANDS } from "./session";
import { STATUS_COMMANDS } from "./status";

export const COMMANDS: Command[] = [
  ...KV_COMMANDS,
  ...KV_FILE_COMMANDS,
  ...PUBSUB_COMMANDS,
  ...MULTICAST_COMMANDS,
  ...SESSION_COMMANDS,
  ...QUEUE_COMMANDS,
  ...CDC_COMMANDS,
  ...STATUS_COMMANDS,
  ...COMPLETION_COMMANDS,
];
