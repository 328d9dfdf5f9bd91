import { type ListDriver } from "@prism/sdk";
import { asBuffer, type RedisContext } from "./context";

/** Lists on native Redis lists: LPUSH/RPUSH, LPOP/RPOP with a count, LLEN, LRANGE. Pushes and pops are sent once. */
export class RedisList implements ListDriver {
  constructor(private readonly ctx: RedisContext) {}

  pushLeft(key: string, values: Uint8Array[]): Promise<number> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    const args = values.map(asBuffer);
    return this.ctx.write(() => client.lpush(k, ...args));
  }

  pushRight(key: string, values: Uint8Array[]): Promise<number> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    const args = values.map(asBuffer);
    return this.ctx.write(() => client.rpush(k, ...args));
  }

  async popLeft(key: string, count: number): Promise<Uint8Array[]> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return (await this.ctx.write(() => client.lpopBuffer(k, count))) ?? [];
  }

  async popRight(key: string, count: number): Promise<Uint8Array[]> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return (await this.ctx.write(() => client.rpopBuffer(k, count))) ?? [];
  }

  length(key: string): Promise<number> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return this.ctx.guard.read(() => client.llen(k));
  }

  range(key: string, start: number, stop: number): Promise<Uint8Array[]> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return this.ctx.guard.read(() => client.lrangeBuffer(k, start, stop));
  }
}
