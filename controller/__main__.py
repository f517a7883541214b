"""python -m controller: serve the approval controller (127.0.0.1:3000 unless configured)."""

from __future__ import annotations

import logging
import sys

from controller import create_app
from controller.config import ConfigurationError
from controller.startup import prepare_to_serve


def main() -> None:
    """Start the controller, or explain what configuration is missing."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app()
    except ConfigurationError as error:  # DatabaseTooNew among them
        sys.exit(f"controller: {error}")
    prepare_to_serve(app)
    print(
        f"controller ready on http://{app.config['HOST']}:{app.config['PORT']} ({app.config['CONFIG_SOURCE']} stack)",
        flush=True,
    )
    app.run(host=app.config["HOST"], port=app.config["PORT"], threaded=True)


if __name__ == "__main__":
    main()
