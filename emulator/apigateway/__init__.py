"""API Gateway on this machine: serves the REST APIs moto holds, with mapping templates, validation and keys."""
