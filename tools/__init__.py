"""The domain: stores, typed tools, reports. Knows nothing about language models."""
