"""Billing: payment providers (sandbox and Stripe) behind one interface, amounts in micros."""
