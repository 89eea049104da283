package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// label names a position in a program under construction.
type label int

// asmOp is one instruction of a program under construction: a plain
// instruction, a conditional jump to two labels, an unconditional jump to
// one, or the definition of a label.
type asmOp struct {
	kind  asmKind
	ins   bpf.Instruction // asmPlain
	cond  bpf.JumpTest    // asmCond: JumpEqual, JumpGreaterThan, JumpGreaterOrEqual or JumpBitsSet
	val   uint32          // asmCond
	t, f  label           // asmCond: targets when true and false; asmJump, asmMark: t
	far   uint8           // asmCond: which targets are beyond the 255 a conditional jump reaches (farT, farF)
	scale int             // instructions the op takes in the current layout
}

type asmKind uint8

// Bits of asmOp.far.
const (
	farT = 1 << iota
	farF
)

const (
	asmPlain asmKind = iota
	asmCond
	asmJump
	asmMark
)

// assembler builds a forward-jumping program with symbolic labels and lays
// it out: a conditional jump whose target is further than its 8-bit offset
// reaches becomes a conditional jump over unconditional ones (32-bit
// offsets), so that generated code never has to care about distances.
type assembler struct {
	ops    []asmOp
	labels int
}

func (a *assembler) newLabel() label {
	a.labels++
	return label(a.labels)
}

func (a *assembler) emit(ins ...bpf.Instruction) {
	for _, in := range ins {
		a.ops = append(a.ops, asmOp{kind: asmPlain, ins: in})
	}
}

// jump jumps to t when A cond val holds, else to f.
func (a *assembler) jump(cond bpf.JumpTest, val uint32, t, f label) {
	a.ops = append(a.ops, asmOp{kind: asmCond, cond: cond, val: val, t: t, f: f})
}

// goTo jumps to l unconditionally.
func (a *assembler) goTo(l label) {
	a.ops = append(a.ops, asmOp{kind: asmJump, t: l})
}

// mark defines l as the position of the next instruction.
func (a *assembler) mark(l label) {
	a.ops = append(a.ops, asmOp{kind: asmMark, t: l})
}

// assemble lays the program out and encodes it.
func (a *assembler) assemble() ([]bpf.RawInstruction, error) {
	pos := make([]int, a.labels+1)
	for {
		pc := 0
		for i := range a.ops {
			op := &a.ops[i]
			switch {
			case op.kind == asmMark:
				pos[op.t] = pc
				op.scale = 0
			case op.kind == asmCond && op.far == farT|farF:
				op.scale = 3
			case op.kind == asmCond && op.far != 0:
				op.scale = 2
			default:
				op.scale = 1
			}
			pc += op.scale
		}
		grew := false
		pc = 0
		for i := range a.ops {
			op := &a.ops[i]
			if op.kind == asmCond {
				// In every form, a near target is reached by the
				// conditional jump itself, at pc.
				far := op.far
				if pos[op.t]-pc-1 > 255 {
					far |= farT
				}
				if pos[op.f]-pc-1 > 255 {
					far |= farF
				}
				if far != op.far {
					op.far = far
					grew = true
				}
			}
			pc += op.scale
		}
		if !grew {
			break
		}
	}
	var prog []bpf.Instruction
	skip := func(from int, to label) (uint32, error) {
		d := pos[to] - from - 1
		if d < 0 {
			return 0, fmt.Errorf("backward jump at instruction %d", from)
		}
		return uint32(d), nil
	}
	for _, op := range a.ops {
		pc := len(prog)
		switch op.kind {
		case asmPlain:
			prog = append(prog, op.ins)
		case asmJump:
			d, err := skip(pc, op.t)
			if err != nil {
				return nil, err
			}
			prog = append(prog, bpf.Jump{Skip: d})
		case asmCond:
			if op.far != farT|farF {
				// A far target is reached through an unconditional
				// jump right after the conditional one.
				at := pc
				if op.far != 0 {
					at = pc + 1
				}
				t, err := skip(at, op.t)
				if err != nil {
					return nil, err
				}
				f, err := skip(at, op.f)
				if err != nil {
					return nil, err
				}
				switch op.far {
				case 0:
					prog = append(prog, bpf.JumpIf{Cond: op.cond, Val: op.val, SkipTrue: uint8(t), SkipFalse: uint8(f)})
				case farT:
					prog = append(prog, bpf.JumpIf{Cond: op.cond, Val: op.val, SkipTrue: 0, SkipFalse: uint8(f + 1)}, bpf.Jump{Skip: t})
				default:
					prog = append(prog, bpf.JumpIf{Cond: op.cond, Val: op.val, SkipTrue: uint8(t + 1), SkipFalse: 0}, bpf.Jump{Skip: f})
				}
				continue
			}
			t, err := skip(pc+1, op.t)
			if err != nil {
				return nil, err
			}
			f, err := skip(pc+2, op.f)
			if err != nil {
				return nil, err
			}
			prog = append(prog,
				bpf.JumpIf{Cond: op.cond, Val: op.val, SkipTrue: 0, SkipFalse: 1},
				bpf.Jump{Skip: t},
				bpf.Jump{Skip: f})
		}
	}
	return bpf.Assemble(prog)
}
