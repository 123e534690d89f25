"""The LLM performance model, pure: models from Hugging Face configs and their parameter counts (more to come)."""
