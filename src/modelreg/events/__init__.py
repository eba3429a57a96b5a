"""Events: webhook subscriptions and their delivery, and the sunset scheduler."""
