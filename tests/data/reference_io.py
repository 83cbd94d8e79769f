"""Writes reference tensors in the text format tests/support/reference.hpp reads:
one tensor per line, `name rank d0 d1 ... v0 v1 ...`. Run the generators with Debian's
/usr/bin/python3 (python3-torch)."""


def write_reference(path, tensors, header=""):
    with open(path, "w") as f:
        for line in header.strip().splitlines():
            f.write("# " + line + "\n")
        for name, t in tensors.items():
            t = t.detach().double().contiguous()
            dims = list(t.shape)
            values = " ".join("%.17g" % v for v in t.flatten().tolist())
            f.write(" ".join([name, str(len(dims))] + [str(d) for d in dims]) + " " + values + "\n")
