"""The lifecycle of a model: active -> legacy -> archived, as data plus one mutator."""
