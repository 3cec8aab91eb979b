"""Creates a tree of N small files (100 per directory, two levels) under DIR.

Usage: maketree.py DIR N
"""

import os
import sys


def main():
    root, n = sys.argv[1], int(sys.argv[2])
    for i in range(n):
        d = os.path.join(root, f"d{i // 10000:02d}", f"s{(i // 100) % 100:02d}")
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:06d}.txt"), "w") as f:
            f.write(f"file {i}\n" * (1 + i % 7))


if __name__ == "__main__":
    main()
