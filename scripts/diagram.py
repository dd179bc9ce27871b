"""Print the state diagrams (Mermaid) generated from the transition tables, for the README."""

from __future__ import annotations

from domain import steps
from domain.permit import transitions as permit


def blocks() -> list[str]:
    return [steps.mermaid(), permit.mermaid()]


if __name__ == "__main__":
    for block in blocks():
        print(f"```mermaid\n{block}\n```\n")
