import { serve } from "@prism/sdk";
import { kafkaDriver } from "../kafka/factory";
import { memstoreDriver } from "../memstore/factory";
import { natsDriver } from "../nats/factory";
import { postgresDriverFactory } from "../postgres/factory";
import { redisDriver } from "../redis/factory";
import { cdcPattern } from "./pattern";
import { postgresLogicalDriver } from "./source";

await serve(cdcPattern([postgresLogicalDriver, memstoreDriver, natsDriver, kafkaDriver, redisDriver, postgresDriverFactory]));
