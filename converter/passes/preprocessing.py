"""(being written)"""


def run(graph, options) -> int:
    return 0
