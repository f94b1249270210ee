"""Index layout of the truth's packed state and parameter arrays, shared by the kernels and ``sims.truth``.

The per-frame kernel works on a handful of flat arrays instead of dozens of small ones (bundled in one
``sims.core.frame.FrameContext`` argument): numba dispatch costs ~0.1 us per array argument (measured)
and the truth's frame budget is ~1 us.

``x``  float64 state (integrated and derived), ``p`` float64 parameters (constant over a run except
fault-driven entries), ``iw`` int64 counters/flags. Frames: N = ECI, L = station LVLH, B = chaser body.
"""

from __future__ import annotations

# ---- x: float64 state ---------------------------------------------------------------------------
N_THR = 28  # thrusters (12 translation + 16 attitude)
X_RS = 0  # [m] station CoM position, N (3)
X_VS = 3  # [m/s] station CoM velocity, N (3)
X_RC = 6  # [m] chaser CoM position, N (3)
X_VC = 9  # [m/s] chaser CoM velocity, N (3)
X_Q = 12  # [-] q_BN, scalar first (4)
X_W = 16  # [rad/s] omega_BN_B (3)
N_Y = 19  # length of the integrated vector y = x[0:19]
X_MASS = 19  # [kg] chaser mass
X_PROP = 20  # [kg] propellant remaining
X_PROP_USED = 21  # [kg] propellant used
X_GYRO_BIAS = 22  # [rad/s] gyro bias (Gauss-Markov state), B (3)
X_R_L = 25  # [m] chaser CoM rel. station port, L (3)
X_V_L = 28  # [m/s] its rate of change seen in L (3)
X_PORT_Y_PREV = 31  # [m] axial (L y) port-to-port distance at the previous frame end
X_JOIN_R_L = 32  # [m] r_L frozen at capture (3)
X_JOIN_Q_BL = 35  # [-] q_BL frozen at capture / held in hold_lvlh mode (4)
X_CONTACT = 39  # contact quantities at the last contact (N_CONTACT)
N_CONTACT = 10  # axial, lateral rate [m/s], lateral mis. [m], pitch, yaw, roll [deg], rates [deg/s] x3, time [s]
X_INERTIA = 49  # [kg m^2] current principal inertia (3)
X_FAULT_BIAS = 52  # fault-injected sensor biases (N_FAULT_BIAS), sub-offsets FB_*
FB_GYRO = 0  # [rad/s] (3)
FB_ST = 3  # [rad] small rotation (3)
FB_GNSS = 6  # [m] (3) and [m/s] (3)
FB_LIDAR = 12  # [m], [rad], [rad]
FB_CAMERA = 15  # [m] (3) and [rad] (3)
FB_THERM = 21  # [degC] (10)
N_FAULT_BIAS = 31
X_OMEGA_LN_L = 83  # [rad/s] LVLH rate w.r.t. N, L (3)
X_Q_BL = 86  # [-] q_BL (4)
X_OMEGA_BL_B = 90  # [rad/s] (3)
X_THR_LEFT = 93  # [s] on-time each thruster still has to fire from the last command (N_THR)
X_GYRO_ANGLE = X_THR_LEFT + N_THR  # [rad] the rate-integrating gyro's angle counter (errors included), B (3)
X_GYRO_DANGLE = X_GYRO_ANGLE + 3  # [rad] true body rotation integrated since the gyro's last sample, B (3)
N_X = X_GYRO_DANGLE + 3

# ---- p: float64 parameters ----------------------------------------------------------------------
P_DT = 0  # [s] minor frame
P_MU = 1  # [m^3/s^2]
P_RE = 2  # [m]
P_J2 = 3  # [-]
P_WE = 4  # [rad/s] Earth rotation rate
P_DRAG_ON = 5  # 1.0 when drag is modelled
P_RHO0 = 6  # [kg/m^3] density at the reference altitude
P_H0 = 7  # [m] reference altitude
P_HSCALE = 8  # [m] density scale height
P_CDA_S = 9  # [m^2] station Cd*A
P_MASS_S = 10  # [kg] station mass
P_CDA_C = 11  # [m^2] chaser Cd*A
P_PORT_L = 12  # [m] station docking port rel. station CoM, L (3)
P_BODY_R = 15  # [m] station body (cylinder) radius
P_BODY_LEN = 16  # [m] station body length from the port plane along +y_L
P_CHASER_R = 17  # [m] chaser hull radius for the collision check
P_RING_R = 18  # [m] capture ring radius: the port centre must cross the plane within it
P_RESTITUTION = 19  # [-] axial restitution after a failed contact
P_PORT_B = 20  # [m] chaser docking port rel. chaser CoM, B (3)
P_INERTIA_FULL = 23  # [kg m^2] principal inertia at P_MASS_FULL (3)
P_MASS_FULL = 26  # [kg] mass at which P_INERTIA_FULL holds
P_ISP_G0 = 27  # [m/s] effective exhaust velocity Isp*g0
P_LIM = 28  # envelope limits (8): axial min, axial max, lat rate, lat mis, pitch, yaw, roll, rate
P_GYRO_SIG = 36  # [rad/s] white noise per sample
P_GYRO_PHI = 37  # [-] Gauss-Markov bias transition per sample
P_GYRO_BSIG = 38  # [rad/s] bias driving noise per sample
P_ST_SIG = 39  # [rad] per axis
P_GNSS_SIG_R = 40  # [m]
P_GNSS_SIG_V = 41  # [m/s]
P_GNSS_MIN_RANGE = 42  # [m]
P_LIDAR_SIG0 = 43  # [m]
P_LIDAR_SIGF = 44  # [-] fraction of range
P_LIDAR_SIGA = 45  # [rad]
P_LIDAR_MAX = 46  # [m]
P_LIDAR_COSFOV = 47  # [-] cos of the half field of view
P_LIDAR_POS_B = 48  # [m] sensor position rel. CoM, B (3)
P_CAM_SIG = 51  # [m]
P_CAM_SIGA = 52  # [rad]
P_CAM_MAX = 53  # [m]
P_CAM_COSFOV = 54  # [-]
P_DROP = 55  # [-] dropout probability per sample, per sensor (N_SENSORS)
P_THR = 62  # thruster table, N_THR rows of THR_STRIDE
THR_POS = 0  # [m] position rel. CoM, B (3)
THR_DIR = 3  # [-] unit force direction, B, misalignment applied (3)
THR_F = 6  # [N] thrust, error applied
THR_MIB = 7  # [N s] minimum impulse bit
THR_STRIDE = 8
N_P = P_THR + N_THR * THR_STRIDE

# sensor index (I_DIV, I_OFF, P_DROP), also the order used by sims.truth
S_GYRO = 0
S_ST = 1
S_GNSS = 2
S_LIDAR = 3
S_CAMERA = 4
S_THERM = 5
S_DOCK = 6
N_SENSORS = 7

# ---- iw: int64 counters and flags -------------------------------------------------------------------
I_FRAME = 0  # minor frames done
I_T_NS = 1  # [ns] time now
I_FRAME_NS = 2  # [ns] minor frame
I_CAPTURED = 3  # 1 after capture
I_COLLIDED = 4  # 1 after any hit other than a capture
I_CONTACT_PENDING = 5  # 1 until the docking mechanism sample reports a contact
I_HOLD_LVLH = 6  # 1: attitude held ideally at X_JOIN_Q_BL (thermal scenarios)
I_DIV = 7  # sample divisor in minor frames per sensor (N_SENSORS)
I_OFF = 14  # forced-off (sensor_dropout fault) flag per sensor (N_SENSORS)
I_THR_SEQ = 21  # seq of the last ACT_THRUSTERS command taken
I_CUR = 22  # noise cursor per stream (N_STREAMS)
I_SEG_END = 30  # noise segment end per stream (N_STREAMS)
I_SEG_START = 38  # noise segment start per stream (N_STREAMS)
I_THR_MODE = 46  # per thruster: 0 nominal, 1 stuck on, 2 failed off (N_THR)
I_NEXT_DUE = I_THR_MODE + N_THR  # next minor frame at which each sensor samples (N_SENSORS); NEVER when off
I_THR_BUSY = I_NEXT_DUE + N_SENSORS  # 1 while some thruster still has on-time left from the last command
I_SERVICE_AT = I_THR_BUSY + 1  # frame count at which the kernel returns F_SERVICE (Python work due)
N_IW = I_SERVICE_AT + 1
NEVER = 1 << 62  # a frame count that is never reached

# noise stream index: one independent PCG64 stream per model
NS_GYRO = 0
NS_ST = 1
NS_GNSS = 2
NS_LIDAR = 3
NS_CAMERA = 4
NS_THERM = 5
NS_DROPOUT = 6
NS_SPARE = 7
N_STREAMS = 8

# frame kernel return bits
EV_CONTACT = 1
EV_CAPTURE = 2
EV_COLLISION = 4
F_SERVICE = 8  # the frame count reached iw[I_SERVICE_AT]: thermal frame, noise refill or fault edge due
THRUSTER_NOMINAL = 0
THRUSTER_STUCK_ON = 1
THRUSTER_FAILED_OFF = 2
