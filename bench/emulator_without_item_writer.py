"""`python -m emulator` with DynamoDB's answers written by moto's own serializer, as bench.dynamodb_answers's baseline.

Every fix but emulator/patches/dynamodb_answers.py's is installed, as the emulator installs them.
"""

from __future__ import annotations

from emulator import patches
from emulator.__main__ import main
from emulator.patches import dynamodb_answers

patches.FIXES = tuple(fix for fix in patches.FIXES if fix not in dynamodb_answers.FIXES)

if __name__ == "__main__":
    main()
