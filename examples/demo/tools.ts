/**
 * The support agent's tools and the fake back-ends behind them (orders,
 * refunds, accounts, the human support queue). They answer from an
 * in-memory order book, take realistic time, and fail the way real
 * back-ends do: during the order service's outage `lookup_order` throws,
 * which the agent records on its `execute_tool` span.
 *
 * Amounts are strings ("189.00"), as a payments API returns them, so the
 * answer quotes exactly what the tool said.
 */
import type { SimClock } from './clock.ts';
import type { Random } from './random.ts';

export interface Order {
  order_id: string;
  status: 'processing' | 'shipped' | 'in_transit' | 'delivered' | 'cancelled';
  items: Array<{ name: string; quantity: number; price: string }>;
  total: string;
  currency: 'USD';
  carrier: string | null;
  tracking_number: string | null;
  /** ISO date. */
  estimated_delivery: string | null;
  email: string;
  shipping_address: string;
}

/** A tool call as the model asks for it (the `tool_call` part of an output message). */
export interface ToolCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** A tool that failed: `type` becomes the span's `error.type`. */
export class ToolError extends Error {
  readonly type: string;
  constructor(type: string, message: string) {
    super(message);
    this.name = type;
    this.type = type;
  }
}

export interface Window {
  from: number;
  to: number;
}

/** The function tools offered to the model (OpenAI-style JSON schemas). */
export const TOOL_DEFINITIONS = [
  { type: 'function', name: 'lookup_order', description: "Look up an order's status, items, shipping and contact details.", parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } },
  { type: 'function', name: 'issue_refund', description: 'Refund an order to the original payment method.', parameters: { type: 'object', properties: { order_id: { type: 'string' }, reason: { type: 'string' } }, required: ['order_id', 'reason'] } },
  { type: 'function', name: 'cancel_order', description: 'Cancel an order that has not shipped yet.', parameters: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] } },
  { type: 'function', name: 'update_address', description: "Change an order's delivery address.", parameters: { type: 'object', properties: { order_id: { type: 'string' }, address: { type: 'string' } }, required: ['order_id', 'address'] } },
  { type: 'function', name: 'send_password_reset', description: 'Send a password-reset link to an account email.', parameters: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] } },
  { type: 'function', name: 'escalate_to_human', description: 'Hand the conversation to a human agent.', parameters: { type: 'object', properties: { summary: { type: 'string' } }, required: ['summary'] } },
] as const;

export type ToolName = (typeof TOOL_DEFINITIONS)[number]['name'];

/** a***@example.com: enough for the customer to recognise, not enough to leak. */
export const maskEmail = (email: string) => email.replace(/^(.)[^@]*/, '$1***');

export class SupportTools {
  readonly #orders: Map<string, Order>;
  readonly #clock: SimClock;
  readonly #random: Random;
  readonly #outage: Window | null;
  #refunds = 0;
  #tickets = 0;

  constructor(orders: Iterable<Order>, clock: SimClock, random: Random, orderServiceOutage: Window | null) {
    this.#orders = new Map([...orders].map((o) => [o.order_id, o]));
    this.#clock = clock;
    this.#random = random;
    this.#outage = orderServiceOutage;
  }

  async call(call: ToolCall): Promise<unknown> {
    const args = call.arguments;
    const orderId = String(args.order_id ?? '');
    switch (call.name as ToolName) {
      case 'lookup_order': {
        const now = this.#clock.now();
        if (this.#outage && now >= this.#outage.from && now <= this.#outage.to) {
          // The gateway gives up on the order service after a couple of seconds.
          await this.#clock.sleep(this.#random.int(1800, 2500));
          throw new ToolError('OrderServiceUnavailable', 'order-service returned 503 Service Unavailable (upstream connect timeout)');
        }
        await this.#clock.sleep(this.#random.int(60, 240));
        return this.#orders.get(orderId) ?? { error: 'not_found', order_id: orderId };
      }
      case 'issue_refund': {
        await this.#clock.sleep(this.#random.int(250, 700));
        const order = this.#orders.get(orderId);
        if (!order) return { error: 'not_found', order_id: orderId };
        return { refund_id: `RF-${70_000 + ++this.#refunds * 37}`, order_id: orderId, amount: order.total, currency: order.currency, method: 'original payment method', expected: '5-7 business days' };
      }
      case 'cancel_order': {
        await this.#clock.sleep(this.#random.int(150, 400));
        const order = this.#orders.get(orderId);
        if (!order) return { error: 'not_found', order_id: orderId };
        if (order.status !== 'processing') return { cancelled: false, order_id: orderId, reason: `already ${order.status.replace('_', ' ')}`, return_window_days: 30 };
        order.status = 'cancelled';
        return { cancelled: true, order_id: orderId, refunded_amount: order.total, currency: order.currency };
      }
      case 'update_address': {
        await this.#clock.sleep(this.#random.int(120, 350));
        const order = this.#orders.get(orderId);
        if (!order) return { error: 'not_found', order_id: orderId };
        if (order.status === 'delivered') return { updated: false, order_id: orderId, reason: 'already delivered' };
        order.shipping_address = String(args.address);
        return { updated: true, order_id: orderId, address: order.shipping_address, estimated_delivery: order.estimated_delivery };
      }
      case 'send_password_reset': {
        await this.#clock.sleep(this.#random.int(200, 500));
        return { sent: true, to: maskEmail(String(args.email ?? '')), expires_in_hours: 24, delivery_minutes: 10 };
      }
      case 'escalate_to_human': {
        await this.#clock.sleep(this.#random.int(100, 300));
        return { ticket_id: `T-${52_000 + ++this.#tickets * 13}`, queue: 'tier-2', expected_response: 'within 24 hours' };
      }
      default:
        throw new ToolError('UnknownTool', `no tool named ${call.name}`);
    }
  }
}
